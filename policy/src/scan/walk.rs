//! One walk over the parsed module that applies every tree rule.
//!
//! Recursion is bounded twice: [`super::precheck`] rejects deep code before parsing, and the
//! walker itself stops descending past a hard cap (reported as `nesting-too-deep`), so a bug in
//! the bound can cost a finding, never the supervisor's stack.

use std::borrow::Cow;

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, ModModule, Stmt};
use ruff_text_size::{Ranged, TextRange};
use unicode_normalization::UnicodeNormalization;

use super::fold::{self, Env, Folded, Value};
use super::{Finding, Rule, ScanRules};

/// Functions that turn a string into an attribute access.
const ATTRIBUTE_BY_NAME: &[&str] = &["getattr", "setattr", "delattr", "hasattr"];

/// Bare dunder names a module may use: everything else of the `__x__` shape is the
/// interpreter's machinery.
const HARMLESS_DUNDER_NAMES: &[&str] = &[
    "__name__",
    "__doc__",
    "__all__",
    "__version__",
    "__author__",
    "__slots__",
    "__qualname__",
    "__module__",
    "__annotations__",
];

/// Standard modules that reach the operating system or the interpreter's internals. Spelling one
/// in a built string, importing one from an allowed module (`from json import codecs`), or
/// reaching one through an allowed module's attributes (`random._os`) is flagged.
const SYSTEM_MODULES: &[&str] = &[
    "os",
    "sys",
    "posix",
    "nt",
    "io",
    "codecs",
    "builtins",
    "subprocess",
    "socket",
    "ctypes",
    "importlib",
    "shutil",
    "pickle",
    "marshal",
    "signal",
    "threading",
    "_thread",
    "gc",
    "inspect",
    "types",
    "pty",
    "fcntl",
    "mmap",
    "resource",
    "select",
    "tempfile",
    "pathlib",
    "runpy",
    "code",
    "pdb",
    "weakref",
];

/// Longest name any rule compares whole strings against (longer strings cannot be one).
const MAX_WORD_LEN: usize = 64;

/// Deepest expression/statement nesting the walker follows, whatever the policy says.
const HARD_DEPTH_CAP: usize = 4 * super::MAX_NESTING_LIMIT;

pub(super) fn walk_module(text: &str, module: &ModModule, rules: &ScanRules) -> Vec<Finding> {
    let mut bindings = Bindings::default();
    bindings.visit_body(&module.body);
    let mut walker = Walker {
        lines: LineIndex::new(text),
        text,
        rules,
        env: bindings.env,
        findings: Vec::new(),
        depth: 0,
        too_deep: false,
        too_complex: false,
        folded: 0,
        module_aliases: rustc_hash::FxHashSet::default(),
    };
    walker.visit_body(&module.body);
    walker.findings
}

/// First pass: every name binding, so that folding can look names up.
#[derive(Default)]
struct Bindings<'a> {
    env: Env<'a>,
    depth: usize,
}

impl<'a> Visitor<'a> for Bindings<'a> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if self.depth > HARD_DEPTH_CAP {
            return;
        }
        match stmt {
            Stmt::Assign(a) => {
                let single = a.targets.len() == 1;
                for target in &a.targets {
                    self.bind_target(target, single.then_some(a.value.as_ref()));
                }
            }
            Stmt::AnnAssign(a) => self.bind_target(&a.target, a.value.as_deref()),
            Stmt::AugAssign(a) => self.bind_target(&a.target, None),
            Stmt::For(f) => self.bind_target(&f.target, None),
            Stmt::With(w) => {
                for item in &w.items {
                    if let Some(var) = &item.optional_vars {
                        self.bind_target(var, None);
                    }
                }
            }
            Stmt::FunctionDef(f) => {
                for p in f.parameters.iter() {
                    self.env.define(p.name().as_str(), None);
                }
                self.env.define(f.name.as_str(), None);
            }
            Stmt::ClassDef(c) => self.env.define(c.name.as_str(), None),
            Stmt::Import(i) => {
                for alias in &i.names {
                    let bound = alias.asname.as_ref().unwrap_or(&alias.name);
                    self.env
                        .define(bound.as_str().split('.').next().unwrap_or(""), None);
                }
            }
            Stmt::ImportFrom(i) => {
                for alias in &i.names {
                    let bound = alias.asname.as_ref().unwrap_or(&alias.name);
                    self.env.define(bound.as_str(), None);
                }
            }
            _ => {}
        }
        self.depth += 1;
        visitor::walk_stmt(self, stmt);
        self.depth -= 1;
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if self.depth > HARD_DEPTH_CAP {
            return;
        }
        if let Expr::Named(n) = expr {
            self.bind_target(&n.target, None);
        }
        self.depth += 1;
        visitor::walk_expr(self, expr);
        self.depth -= 1;
    }
}

impl<'a> Bindings<'a> {
    fn bind_target(&mut self, target: &'a Expr, value: Option<&'a Expr>) {
        match target {
            Expr::Name(n) => self.env.define(n.id.as_str(), value),
            Expr::Tuple(t) => t.elts.iter().for_each(|e| self.bind_target(e, None)),
            Expr::List(l) => l.elts.iter().for_each(|e| self.bind_target(e, None)),
            Expr::Starred(s) => self.bind_target(&s.value, None),
            _ => {}
        }
    }
}

/// Byte offset to 1-based line and character column, in O(log n).
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    fn locate(&self, text: &str, offset: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        let column = text.get(start..offset).map_or(1, |s| s.chars().count() + 1);
        (line, column)
    }
}

struct Walker<'a> {
    text: &'a str,
    lines: LineIndex,
    rules: &'a ScanRules,
    env: Env<'a>,
    findings: Vec<Finding>,
    depth: usize,
    too_deep: bool,
    /// `too-complex` has been reported (once per file).
    too_complex: bool,
    /// Above 0 while walking inside an expression whose folded value was already judged.
    folded: usize,
    /// Names bound by `import x` / `import x as y`.
    module_aliases: rustc_hash::FxHashSet<String>,
}

/// NFKC normal form; ASCII (nearly every identifier and string) is already normal.
fn nfkc(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.nfkc().collect())
    }
}

fn is_identifier_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !is_identifier_char(c))
        .filter(|w| !w.is_empty())
}

impl<'a> Walker<'a> {
    fn report(&mut self, rule: Rule, range: TextRange, message: String) {
        let (line, column) = self.lines.locate(self.text, range.start().into());
        let snippet = self
            .text
            .get(usize::from(range.start())..usize::from(range.end()))
            .unwrap_or("");
        let snippet = snippet.lines().next().unwrap_or("");
        self.findings
            .push(Finding::new(rule, line, column, snippet, message));
    }

    fn attribute_forbidden(&self, attr: &str) -> bool {
        self.rules.forbidden_attributes.contains(&*nfkc(attr))
    }

    fn import_allowed(&self, dotted: &str) -> bool {
        let dotted: &str = &nfkc(dotted);
        let mut prefix = String::new();
        for part in dotted.split('.') {
            if part.starts_with('_') {
                return false;
            }
            if !prefix.is_empty() {
                prefix.push('.');
            }
            prefix.push_str(part);
            if self.rules.allowed_imports.contains(&prefix) {
                return true;
            }
        }
        false
    }

    /// Words that no string needs to contain: forbidden names and attributes with an underscore
    /// in them (`__class__`, `f_back`, `_getframe`, `device_id`).
    fn is_dangerous_word(&self, word: &str) -> bool {
        word.contains('_')
            && (self.rules.forbidden_names.contains(word)
                || self.rules.forbidden_attributes.contains(word))
    }

    fn is_forbidden_word(&self, word: &str) -> bool {
        self.rules.forbidden_names.contains(word)
            || self.rules.forbidden_attributes.contains(word)
            || ATTRIBUTE_BY_NAME.contains(&word)
            || (SYSTEM_MODULES.contains(&word) && !self.import_allowed(word))
    }

    /// Judge one string value. `built` says it was assembled (so spelling a name is deliberate).
    fn check_string(&mut self, value: &str, built: bool, range: TextRange) {
        let normal: &str = &nfkc(value);
        if let Some(pattern) = self.rules.forbidden_patterns.find_in(normal) {
            let how = if built { "builds" } else { "contains" };
            let message = format!(
                "string {how} the forbidden pattern `{pattern}`; modules have no use for it (scan.forbidden_patterns)"
            );
            self.report(Rule::ForbiddenString, range, message);
            return;
        }
        if let Some(word) = words(normal).find(|w| self.is_dangerous_word(w)) {
            let word = word.to_string();
            self.report(
                Rule::ForbiddenString,
                range,
                format!("string holds `{word}`, a name used to escape the sandbox; write the code without it"),
            );
            return;
        }
        if let Some(attr) = format_field_attributes(normal)
            .into_iter()
            .find(|a| a.starts_with('_') || self.attribute_forbidden(a))
        {
            self.report(
                Rule::ForbiddenString,
                range,
                format!("format string reads the attribute `{attr}` of its argument; format only plain values"),
            );
            return;
        }
        let whole = normal.trim();
        // Forbidden words are short identifiers: longer text cannot equal one.
        if whole.len() <= MAX_WORD_LEN
            && (self.is_forbidden_word(whole)
                || (whole.chars().any(char::is_uppercase)
                    && self.is_forbidden_word(&whole.to_lowercase())))
        {
            if built {
                self.report(
                    Rule::ObfuscatedString,
                    range,
                    format!("this expression builds the string `{whole}`, a forbidden name, out of pieces; use the name's plain meaning or nothing"),
                );
            } else {
                self.report(
                    Rule::SuspiciousString,
                    range,
                    format!("string equals the forbidden name `{whole}`; fine as text, but it cannot be used to reach that name"),
                );
            }
        }
    }

    /// Letters written as escapes (`"\x65val"`) only hide what the text says.
    fn check_escapes(&mut self, range: TextRange) {
        let Some(source) = self
            .text
            .get(usize::from(range.start())..usize::from(range.end()))
        else {
            return;
        };
        let prefix: String = source
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        if prefix.contains(['r', 'R']) {
            return;
        }
        if let Some(escape) = letter_escape(source) {
            self.report(
                Rule::Obfuscation,
                range,
                format!("`{escape}` writes an ordinary letter or digit as an escape, which only hides what the text says; write the character itself"),
            );
        }
    }

    /// Fold `expr`; the first time the file's folding budget runs out, reject the file there.
    fn fold(&mut self, expr: &Expr) -> Option<Folded> {
        let folded = fold::fold(expr, &self.env);
        if self.env.exhausted() && !self.too_complex {
            self.too_complex = true;
            self.report(
                Rule::TooComplex,
                expr.range(),
                "constant expressions here cost too much to check (nested comprehensions or \
                 long chains over constants); write the values out or build them at run time"
                    .into(),
            );
        }
        folded
    }

    /// Fold `expr` and judge the result, unless an enclosing expression was already judged.
    fn check_folded(&mut self, expr: &Expr) -> bool {
        if self.folded > 0 {
            return false;
        }
        let Some(Folded {
            value,
            built,
            decoded,
        }) = self.fold(expr)
        else {
            return false;
        };
        let text = match &value {
            Value::Str(s) => s.clone(),
            Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            Value::Seq(items) => items
                .iter()
                .filter_map(|v| match v {
                    Value::Str(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(""),
            Value::Int(_) => return true,
        };
        if decoded && text.chars().any(|c| c.is_ascii_alphabetic()) {
            self.report(
                Rule::Obfuscation,
                expr.range(),
                format!("text `{}` is decoded from character codes, hex or escapes instead of being written out; write it plainly", shorten(&text)),
            );
        }
        self.check_string(&text, built, expr.range());
        true
    }

    fn check_attribute_by_name(&mut self, func: &str, call: &'a ast::ExprCall) {
        let args = &call.arguments.args;
        let name_arg = args.get(1);
        let folded = name_arg
            .filter(|a| !a.is_starred_expr())
            .and_then(|a| self.fold(a));
        match folded.map(|f| f.value) {
            Some(Value::Str(name)) => {
                let name: &str = &nfkc(&name);
                if name.starts_with('_') || self.attribute_forbidden(name) {
                    self.report(
                        Rule::DynamicAttribute,
                        call.range(),
                        format!("{func}() reaches the forbidden attribute `{name}`"),
                    );
                }
            }
            _ => self.report(
                Rule::DynamicAttribute,
                call.range(),
                format!("{func}() needs a constant attribute name so that it can be checked; write `obj.name` instead"),
            ),
        }
    }

    fn check_import(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Import(import) => {
                for alias in &import.names {
                    let name = alias.name.as_str();
                    if self.import_allowed(name) {
                        let bound = alias
                            .asname
                            .as_ref()
                            .map_or_else(|| name.split('.').next().unwrap_or(name), |a| a.as_str());
                        self.module_aliases.insert(bound.to_string());
                    } else {
                        self.report(
                            Rule::ForbiddenImport,
                            alias.range(),
                            format!("`import {name}`: `{name}` is not in the policy's import allowlist ({})", self.allowlist()),
                        );
                    }
                }
            }
            Stmt::ImportFrom(import) => {
                if import.level > 0 {
                    self.report(
                        Rule::RelativeImport,
                        import.range(),
                        "relative imports reach outside the module; a module is one file and imports only allowed modules".into(),
                    );
                    return;
                }
                let module = import.module.as_ref().map_or("", |m| m.as_str());
                if !self.import_allowed(module) {
                    self.report(
                        Rule::ForbiddenImport,
                        import.range(),
                        format!("`from {module} import ...`: `{module}` is not in the policy's import allowlist ({})", self.allowlist()),
                    );
                    return;
                }
                for alias in &import.names {
                    let name: &str = &nfkc(alias.name.as_str());
                    if name == "*" {
                        self.report(
                            Rule::StarImport,
                            alias.range(),
                            format!("`from {module} import *` hides which names the module takes; import the names you use"),
                        );
                    } else if name.starts_with('_')
                        || self.attribute_forbidden(name)
                        || self.rules.forbidden_names.contains(name)
                        || (SYSTEM_MODULES.contains(&name) && !self.import_allowed(name))
                    {
                        self.report(
                            Rule::ForbiddenImport,
                            alias.range(),
                            format!("`from {module} import {name}` takes an internal or forbidden name out of an allowed module"),
                        );
                    }
                }
            }
            _ => {}
        }
    }

    fn allowlist(&self) -> String {
        let mut names: Vec<&str> = self
            .rules
            .allowed_imports
            .iter()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        names.join(", ")
    }

    fn check_name(&mut self, name: &ast::ExprName) {
        let id: &str = &nfkc(name.id.as_str());
        if self.rules.forbidden_names.contains(id) {
            self.report(
                Rule::ForbiddenName,
                name.range,
                format!("`{id}` is not available to modules (scan.forbidden_names)"),
            );
        } else if ATTRIBUTE_BY_NAME.contains(&id) {
            self.report(
                Rule::DynamicAttribute,
                name.range,
                format!("`{id}` may only be called directly with a constant attribute name"),
            );
        } else if id.len() > 4
            && id.starts_with("__")
            && id.ends_with("__")
            && !HARMLESS_DUNDER_NAMES.contains(&id)
        {
            self.report(
                Rule::ForbiddenName,
                name.range,
                format!("`{id}` is interpreter machinery, not available to modules"),
            );
        }
    }

    fn check_attribute(&mut self, attribute: &ast::ExprAttribute) {
        let attr: &str = &nfkc(attribute.attr.as_str());
        if self.attribute_forbidden(attr) {
            self.report(
                Rule::ForbiddenAttribute,
                attribute.range,
                format!(
                    "attribute `{attr}` is forbidden: {} (scan.forbidden_attributes)",
                    attribute_kind(attr)
                ),
            );
        } else if let Expr::Name(owner) = attribute.value.as_ref()
            && self.module_aliases.contains(owner.id.as_str())
            && (attr.starts_with('_')
                || (SYSTEM_MODULES.contains(&attr) && !self.import_allowed(attr)))
        {
            self.report(
                Rule::ForbiddenAttribute,
                attribute.range,
                format!(
                    "`{}.{attr}` reaches the internals of module `{}`; use its public API",
                    owner.id, owner.id
                ),
            );
        }
    }

    fn enter(&mut self, range: TextRange) -> bool {
        if self.depth >= HARD_DEPTH_CAP {
            if !self.too_deep {
                self.too_deep = true;
                self.report(
                    Rule::NestingTooDeep,
                    range,
                    "code is nested too deeply to be judged".into(),
                );
            }
            return false;
        }
        self.depth += 1;
        true
    }
}

impl<'a> Visitor<'a> for Walker<'a> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if !self.enter(stmt.range()) {
            return;
        }
        match stmt {
            Stmt::Import(_) | Stmt::ImportFrom(_) => self.check_import(stmt),
            Stmt::Global(ast::StmtGlobal { names, .. })
            | Stmt::Nonlocal(ast::StmtNonlocal { names, .. }) => {
                for n in names {
                    if self.rules.forbidden_names.contains(&*nfkc(n.as_str())) {
                        self.report(
                            Rule::ForbiddenName,
                            n.range(),
                            format!("`{n}` is not available to modules"),
                        );
                    }
                }
            }
            _ => {}
        }
        visitor::walk_stmt(self, stmt);
        self.depth -= 1;
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if !self.enter(expr.range()) {
            return;
        }
        let mut judged = false;
        match expr {
            Expr::Name(name) => self.check_name(name),
            Expr::Attribute(attribute) => self.check_attribute(attribute),
            Expr::StringLiteral(s) => {
                for part in s.value.iter() {
                    self.check_escapes(part.range);
                }
                let implicit = s.value.is_implicit_concatenated();
                self.check_string(s.value.to_str(), implicit, s.range);
            }
            Expr::BytesLiteral(b) => {
                for part in b.value.iter() {
                    self.check_escapes(part.range);
                }
                let bytes: Vec<u8> = b.value.bytes().take(fold::MAX_LEN).collect();
                self.check_string(&String::from_utf8_lossy(&bytes), false, b.range);
            }
            Expr::FString(f) => {
                for part in f.value.iter() {
                    match part {
                        ast::FStringPart::Literal(lit) => {
                            self.check_escapes(lit.range);
                            self.check_string(&lit.value, false, lit.range);
                        }
                        ast::FStringPart::FString(fs) => {
                            for element in fs.elements.iter() {
                                if let ast::InterpolatedStringElement::Literal(lit) = element {
                                    self.check_escapes(lit.range);
                                    self.check_string(&lit.value, false, lit.range);
                                }
                            }
                        }
                    }
                }
                judged = self.check_folded(expr);
            }
            Expr::BinOp(_) | Expr::Subscript(_) | Expr::ListComp(_) | Expr::Generator(_) => {
                judged = self.check_folded(expr);
            }
            Expr::Call(call) => {
                if let Expr::Name(func) = call.func.as_ref()
                    && ATTRIBUTE_BY_NAME.contains(&&*nfkc(func.id.as_str()))
                {
                    let func: &str = &nfkc(func.id.as_str());
                    self.check_attribute_by_name(func, call);
                    // The function name itself is fine here; walk only the arguments.
                    let judged = self.check_folded(expr);
                    self.folded += usize::from(judged);
                    self.visit_arguments(&call.arguments);
                    self.folded -= usize::from(judged);
                    self.depth -= 1;
                    return;
                }
                judged = self.check_folded(expr);
            }
            _ => {}
        }
        self.folded += usize::from(judged);
        visitor::walk_expr(self, expr);
        self.folded -= usize::from(judged);
        self.depth -= 1;
    }

    fn visit_pattern_keyword(&mut self, keyword: &'a ast::PatternKeyword) {
        let attr: &str = &nfkc(keyword.attr.as_str());
        if attr.starts_with('_') || self.attribute_forbidden(attr) {
            self.report(
                Rule::ForbiddenAttribute,
                keyword.range,
                format!("class pattern reads the attribute `{attr}`, which is forbidden"),
            );
        }
        visitor::walk_pattern_keyword(self, keyword);
    }

    fn visit_keyword(&mut self, keyword: &'a ast::Keyword) {
        if let Some(arg) = &keyword.arg {
            let arg: &str = &nfkc(arg.as_str());
            if arg.starts_with("__") && self.attribute_forbidden(arg) {
                self.report(
                    Rule::ForbiddenAttribute,
                    keyword.range,
                    format!("keyword argument `{arg}` names interpreter machinery"),
                );
            }
        }
        visitor::walk_keyword(self, keyword);
    }
}

/// Attribute names read by `str.format` fields: `"{0.__class__}"`, `"{x.crypto.key}"`.
fn format_field_attributes(s: &str) -> Vec<String> {
    let mut attrs = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        if rest.starts_with('{') {
            rest = &rest[1..];
            continue;
        }
        let field_end = rest.find(['}', '!', ':']).unwrap_or(rest.len());
        let field = &rest[..field_end];
        for part in field.split('.').skip(1) {
            let name: String = part
                .chars()
                .take_while(|&c| is_identifier_char(c))
                .collect();
            if !name.is_empty() {
                attrs.push(name);
            }
        }
    }
    attrs
}

/// The first escape in a literal's source that spells an ASCII letter, digit, `_` or `.`.
fn letter_escape(source: &str) -> Option<String> {
    let mut chars = source.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            continue;
        }
        let Some(&(_, kind)) = chars.peek() else {
            break;
        };
        chars.next();
        let digits = match kind {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            '0'..='7' => 0,
            'N' => {
                let end = source[i..].find('}').map_or(source.len(), |e| i + e + 1);
                let name = &source[i..end];
                if name.contains("LETTER") || name.contains("DIGIT") || name.contains("LOW LINE") {
                    return Some(name.to_string());
                }
                continue;
            }
            _ => continue,
        };
        let escape: String = if digits == 0 {
            let mut s = String::from(kind);
            while s.len() < 3 && chars.peek().is_some_and(|(_, c)| ('0'..='7').contains(c)) {
                s.push(chars.next()?.1);
            }
            s
        } else {
            (0..digits)
                .filter_map(|_| chars.next().map(|(_, c)| c))
                .collect()
        };
        let radix = if digits == 0 { 8 } else { 16 };
        let decoded = u32::from_str_radix(&escape, radix)
            .ok()
            .and_then(char::from_u32);
        if decoded.is_some_and(|d| d.is_ascii_alphanumeric() || d == '_' || d == '.') {
            let shown = if digits == 0 {
                format!("\\{escape}")
            } else {
                format!("\\{kind}{escape}")
            };
            return Some(shown);
        }
    }
    None
}

/// Why an attribute is on the list, in words a module author understands.
fn attribute_kind(attr: &str) -> &'static str {
    const INTERNAL_PREFIXES: &[&str] = &["f_", "gi_", "cr_", "ag_", "tb_", "co_", "func_"];
    if attr.starts_with('_')
        || attr == "mro"
        || INTERNAL_PREFIXES.iter().any(|p| attr.starts_with(p))
    {
        "it is object-model, frame or code machinery, the classic way out of a Python sandbox"
    } else {
        "it is session control or sensitive client data, which modules never get; use the pyward host API"
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_string()
    } else {
        s.chars().take(40).chain("…".chars()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_respect_word_edges() {
        let set =
            super::super::PatternSet::new(&["socket".into(), "os.system".into(), "| sh".into()]);
        assert_eq!(set.find_in("import socket"), Some("socket"));
        assert_eq!(set.find_in("import SOCKET"), Some("socket"));
        assert_eq!(set.find_in("websockets are fun"), None);
        assert_eq!(set.find_in("x = os.system('ls')"), Some("os.system"));
        assert_eq!(set.find_in("chaos.systems"), None);
        assert_eq!(set.find_in("curl x | sh"), Some("| sh"));
        assert_eq!(set.find_in("a | shorts"), None);
    }

    #[test]
    fn format_fields() {
        assert_eq!(format_field_attributes("{0.__class__}"), ["__class__"]);
        assert_eq!(format_field_attributes("{x.a.b!r:>10}"), ["a", "b"]);
        assert!(format_field_attributes("{{0.__class__}} {0:.2f}").is_empty());
    }

    #[test]
    fn escapes() {
        assert_eq!(letter_escape(r#""\x65val""#).as_deref(), Some("\\x65"));
        assert_eq!(letter_escape(r#""\u0065""#).as_deref(), Some("\\u0065"));
        assert_eq!(letter_escape(r#""\145""#).as_deref(), Some("\\145"));
        assert!(letter_escape(r#""\N{LATIN SMALL LETTER E}""#).is_some());
        assert_eq!(letter_escape(r#""\x1b[0m\n\t\x00""#), None);
        assert_eq!(letter_escape(r#""\\x65""#), None);
    }
}
