//! One walk over the parsed module that applies every tree rule.
//!
//! Recursion is bounded twice: [`super::precheck`] rejects deep code before parsing, and the
//! walker itself stops descending past a hard cap (reported as `nesting-too-deep`), so a bug in
//! the bound can cost a finding, never the supervisor's stack.
//!
//! Module objects are tracked: a name bound anywhere by `import x`, `import x as y`,
//! `from pkg import submodule`, `y = <module>` or a parameter default `def f(y=<module>)` may be
//! that module, and every attribute read on it must be in the module's public API
//! ([`module_api`]). A module may only be read from, aliased that way or given as a default,
//! so that it cannot reach a place where attribute reads go unchecked.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::BTreeSet;

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, ModModule, Stmt};
use ruff_text_size::{Ranged, TextRange};
use unicode_normalization::UnicodeNormalization;

use super::fold::{self, Env, Folded, Value};
use super::module_api;
use super::names::{Binding, ModState, NameInfo, Names, pattern_binding};
use super::{Finding, Rule, ScanRules, kind};
use crate::position::{LineIndex, first_line};

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

/// Functions of allowed modules that share a name with a forbidden builtin but do something
/// ordinary. `re.compile` compiles a regular expression, not code; `io.open` is `open`.
const HARMLESS_MODULE_FUNCTIONS: &[(&str, &str)] = &[("re", "compile")];

/// Module-level functions Python calls behind the code's back (PEP 562): refused whatever the
/// policy's hook list says. In a class, `__getattr__` is ordinary code.
const MODULE_HOOKS: &[&str] = &["__getattr__", "__dir__"];

/// Methods that read the attributes and items a format string names (`str.format`,
/// `str.format_map`, `string.Formatter.vformat`).
const FORMAT_METHODS: &[&str] = &["format", "format_map", "vformat"];

/// Functions of allowed modules that take attribute names as strings and read them without
/// passing through the worker's guarded `getattr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameTaking {
    AttrGetter,
    MethodCaller,
    UpdateWrapper,
    Wraps,
}

const NAME_TAKING: &[(&str, &str, NameTaking)] = &[
    ("operator", "attrgetter", NameTaking::AttrGetter),
    ("operator", "methodcaller", NameTaking::MethodCaller),
    ("functools", "update_wrapper", NameTaking::UpdateWrapper),
    ("functools", "wraps", NameTaking::Wraps),
];

/// The identifiers the rules above treat specially, as [`kind`] flags for [`ScanRules::kind`].
pub(super) fn fixed_kinds() -> impl Iterator<Item = (&'static str, u16)> {
    let by_name = ATTRIBUTE_BY_NAME
        .iter()
        .map(|n| (*n, kind::ATTRIBUTE_BY_NAME));
    let system = SYSTEM_MODULES.iter().map(|n| (*n, kind::SYSTEM_MODULE));
    let format = FORMAT_METHODS.iter().map(|n| (*n, kind::FORMAT_METHOD));
    let taking = NAME_TAKING.iter().map(|(_, n, _)| (*n, kind::NAME_TAKING));
    by_name.chain(system).chain(format).chain(taking)
}

/// Longest name any rule compares whole strings against (longer strings cannot be one).
const MAX_WORD_LEN: usize = 64;

/// Deepest expression/statement nesting the walker follows, whatever the policy says.
pub(super) const HARD_DEPTH_CAP: usize = 4 * super::MAX_NESTING_LIMIT;

/// What the walk found.
pub(super) struct Walked {
    pub findings: Vec<Finding>,
    pub seen_forbidden: BTreeSet<String>,
}

pub(super) fn walk_module(text: &str, module: &ModModule, rules: &ScanRules) -> Walked {
    let names = Names::of_body(&module.body, text.len());
    let mut walker = Walker {
        lines: OnceCell::new(),
        text,
        rules,
        names: &names,
        env: Env::new(&names),
        findings: Vec::new(),
        depth: 0,
        too_deep: false,
        too_complex: false,
        folded: 0,
        cpython_folded: 0,
        usage: Use::Value,
        scope_depth: 0,
        class_body: false,
        seen: BTreeSet::new(),
    };
    walker.visit_body(&module.body);
    Walked {
        findings: walker.findings,
        seen_forbidden: walker.seen,
    }
}

/// How the expression being visited is used by its parent. Set by the parent just before it
/// visits the child; read (and reset) as the child is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Anything not listed below: the value goes somewhere the scanner does not follow.
    Value,
    /// `x` in `x.attr`, or the object of `getattr(x, name)` (judged with the name).
    Receiver,
    /// `f` in `f(...)`.
    Callee,
    /// `value` in `name = value`: the name becomes another name for it.
    Alias,
}

struct Walker<'a, 'n> {
    text: &'a str,
    lines: OnceCell<LineIndex>,
    rules: &'a ScanRules,
    names: &'n Names<'a>,
    env: Env<'n, 'a>,
    findings: Vec<Finding>,
    depth: usize,
    too_deep: bool,
    /// `too-complex` has been reported (once per file).
    too_complex: bool,
    /// Above 0 while walking inside an expression whose folded value was already judged.
    folded: usize,
    /// Above 0 inside an operation CPython folds itself (`+`, `%`, subscripts) whose value was
    /// recorded in `seen`.
    cpython_folded: usize,
    /// How the parent uses the expression about to be visited.
    usage: Use,
    /// Functions and classes around the statement being visited (0: module level).
    scope_depth: usize,
    /// Visiting the statements of a class body, whose names become class attributes.
    class_body: bool,
    /// Identifiers on a forbidden list met anywhere in the file.
    seen: BTreeSet<String>,
}

/// NFKC normal form; ASCII (nearly every string) is already normal. Identifiers need none: the
/// lexer normalises them as Python does (`ｅｖａｌ` is the name `eval`).
pub(super) fn nfkc(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.nfkc().collect())
    }
}

pub(super) fn is_identifier_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !is_identifier_char(c))
        .filter(|w| !w.is_empty())
}

impl<'a> Walker<'a, '_> {
    fn report(&mut self, rule: Rule, range: TextRange, message: String) {
        let lines = self.lines.get_or_init(|| LineIndex::new(self.text));
        let (line, column) = lines.locate(self.text, range.start().into());
        let snippet = first_line(self.text, range.start().into(), range.end().into());
        self.findings
            .push(Finding::new(rule, line, column, snippet, message));
    }

    /// What `identifier` (NFKC-normalised) is to the rules; records it if a list holds it.
    fn kind_of(&mut self, identifier: &str) -> u16 {
        let kind = self.rules.kind(identifier);
        if kind & kind::ON_A_LIST != 0 && !self.seen.contains(identifier) {
            self.seen.insert(identifier.to_string());
        }
        kind
    }

    /// Record `identifier` (NFKC-normalised) if a forbidden list holds it.
    fn saw(&mut self, identifier: &str) {
        self.kind_of(identifier);
    }

    /// [`Self::kind_of`] for a name, cached on its [`NameInfo`]: one table lookup per distinct
    /// name rather than per occurrence.
    fn name_kind(&mut self, id: &str, info: Option<&NameInfo<'a>>) -> u16 {
        let kind = match info {
            Some(info) => match info.kind.get() {
                Some(kind) => kind,
                None => {
                    let kind = self.rules.kind(id);
                    info.kind.set(Some(kind));
                    kind
                }
            },
            None => self.rules.kind(id),
        };
        if kind & kind::ON_A_LIST != 0 && !self.seen.contains(id) {
            self.seen.insert(id.to_string());
        }
        kind
    }

    fn attribute_forbidden(&self, attr: &str) -> bool {
        self.rules.kind(&nfkc(attr)) & kind::FORBIDDEN_ATTRIBUTE != 0
    }

    /// May `dotted` be imported? Some prefix must be on the allowlist, and below it no part may
    /// be private (`random._os`) or name a system module (`asyncio.subprocess`) unless that
    /// exact prefix is listed (`__future__`).
    fn import_allowed(&self, dotted: &str) -> bool {
        let dotted: &str = &nfkc(dotted);
        let mut allowed = false;
        let mut end = 0;
        for part in dotted.split('.') {
            end += if end == 0 { part.len() } else { part.len() + 1 };
            let listed = self.rules.allowed_imports.contains(&dotted[..end]);
            if !listed
                && (part.starts_with('_')
                    || (allowed && self.rules.kind(part) & kind::SYSTEM_MODULE != 0))
            {
                return false;
            }
            allowed |= listed;
        }
        allowed
    }

    /// Words that no string needs to contain: forbidden names, attributes and hook methods with
    /// an underscore in them (`__class__`, `f_back`, `_getframe`, `device_id`, `__del__`).
    fn is_dangerous_word(&self, word: &str) -> bool {
        word.contains('_') && self.rules.is_forbidden_identifier(word)
    }

    fn is_forbidden_word(&self, word: &str) -> bool {
        let kind = self.rules.kind(word);
        kind & (kind::ON_A_LIST | kind::ATTRIBUTE_BY_NAME) != 0
            || (kind & kind::SYSTEM_MODULE != 0 && !self.import_allowed(word))
    }

    /// A system module the policy does not let modules import.
    fn is_system_module(&self, name: &str) -> bool {
        self.rules.kind(name) & kind::SYSTEM_MODULE != 0 && !self.import_allowed(name)
    }

    /// Judge one string value. `built` says it was assembled (so spelling a name is deliberate).
    fn check_string(&mut self, value: &str, built: bool, range: TextRange) {
        let normal: &str = &nfkc(value);
        // Only a string that is one word can equal a forbidden name: most are not.
        let whole = normal.trim();
        let one_word = !whole.is_empty()
            && whole.len() <= MAX_WORD_LEN
            && whole.chars().all(is_identifier_char);
        if one_word && whole.len() == normal.len() {
            self.saw(normal);
        }
        if let Some(pattern) = self.rules.forbidden_patterns.find_in(normal) {
            let how = if built { "builds" } else { "contains" };
            let message = format!(
                "string {how} the forbidden pattern `{pattern}`; modules have no use for it (scan.forbidden_patterns)"
            );
            self.report(Rule::ForbiddenString, range, message);
            return;
        }
        if normal.contains('_')
            && let Some(word) = words(normal).find(|w| self.is_dangerous_word(w))
        {
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
        if one_word
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
        if !source.contains('\\') {
            return;
        }
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
            // CPython folds `+`, `%` and subscripts of constants itself: the value of the
            // outermost such operation inside a call or f-string is a constant of the compiled
            // code, so it is recorded as seen (it was judged as part of the enclosing value).
            if self.cpython_folded == 0
                && matches!(expr, Expr::BinOp(_) | Expr::Subscript(_))
                && let Some(Folded {
                    value: Value::Str(s),
                    ..
                }) = self.fold(expr)
                && s.len() <= MAX_WORD_LEN
            {
                self.saw(&nfkc(&s));
            }
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
        let text: Cow<'_, str> = match &value {
            Value::Str(s) => Cow::Borrowed(s),
            Value::Bytes(b) => String::from_utf8_lossy(b),
            Value::Seq(items) | Value::Iter(items) => Cow::Owned(
                items
                    .iter()
                    .filter_map(|v| match v {
                        Value::Str(s) => Some(s.as_str()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .join(""),
            ),
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

    // ---- modules ---------------------------------------------------------------------------

    /// May `name` hold a module where it is read? Only the bindings below can give a name a
    /// module: every other way to move one (an argument, a container, `return`, walrus...) is a
    /// module used as a value, which is reported where it happens.
    fn module_state(&self, name: &str) -> ModState<'a> {
        match self.names.get(name) {
            Some(info) if info.may_be_module => self.module_state_of(info),
            _ => ModState::NotModule,
        }
    }

    fn module_state_of(&self, info: &super::names::NameInfo<'a>) -> ModState<'a> {
        if let Some(state) = info.module.get() {
            return state;
        }
        // Cycle guard (`a = b`, `b = a`): while being resolved the name is no module.
        info.module.set(Some(ModState::NotModule));
        let mut state = ModState::NotModule;
        for binding in info.bindings() {
            let this = match binding {
                Binding::Import(dotted) => ModState::Module(dotted),
                Binding::ImportFrom { module, attr } => module_api::lookup(module)
                    .and_then(|m| m.submodule(attr))
                    .map_or(ModState::NotModule, ModState::Module),
                Binding::Assign(Expr::Name(n)) | Binding::Param(Some(Expr::Name(n))) => {
                    self.module_state(n.id.as_str())
                }
                Binding::Assign(e @ Expr::Attribute(_))
                | Binding::Param(Some(e @ Expr::Attribute(_))) => self
                    .module_of_expr(e)
                    .map_or(ModState::NotModule, ModState::Module),
                _ => ModState::NotModule,
            };
            state = match (state, this) {
                (s, ModState::NotModule) => s,
                (ModState::NotModule, t) => t,
                (s, t) if s == t => s,
                _ => ModState::Ambiguous,
            };
        }
        info.module.set(Some(state));
        state
    }

    /// The module `expr` evaluates to, if it is a known one: a module name, or an attribute of
    /// a known module that the table says is a module.
    fn module_of_expr(&self, expr: &Expr) -> Option<&'a str> {
        match expr {
            Expr::Name(n) => match self.module_state(n.id.as_str()) {
                ModState::Module(m) => Some(m),
                _ => None,
            },
            Expr::Attribute(a) => {
                let module = self.module_of_expr(&a.value)?;
                module_api::lookup(module)?.submodule(a.attr.as_str())
            }
            _ => None,
        }
    }

    /// A function that takes attribute names, referred to by `expr` (`operator.attrgetter`, or
    /// a name imported from there).
    fn name_taking(&self, expr: &Expr) -> Option<(NameTaking, &'static str)> {
        match expr {
            Expr::Attribute(a) => name_taking_in(self.module_of_expr(&a.value)?, a.attr.as_str()),
            Expr::Name(n) => self.name_taking_name(n.id.as_str()),
            _ => None,
        }
    }

    /// The name-taking function a name is bound to by `from operator import attrgetter`.
    fn name_taking_name(&self, id: &str) -> Option<(NameTaking, &'static str)> {
        if self.rules.kind(id) & kind::NAME_TAKING == 0 && !self.names.get(id)?.may_be_module {
            // Only `from m import f [as g]` can bind one, and that makes `may_be_module`.
            return None;
        }
        self.names.get(id)?.bindings().find_map(|b| match b {
            Binding::ImportFrom { module, attr } => name_taking_in(module, attr),
            _ => None,
        })
    }

    /// Could `expr` be the host's client object? Only a parameter (the seeds handed the client
    /// to handlers) or a name the module never binds (a client injected as a global) can be,
    /// and attribute or item chains starting there; also what a method keeps on its instance
    /// (`self.client`), which was handed to it from outside. A method's `self` itself, a value
    /// the module made (`m = re.match(...)`, a loop variable) or a call's result cannot.
    fn may_be_client(&self, expr: &Expr) -> bool {
        let mut root = expr;
        let mut hops = 0;
        loop {
            match root {
                Expr::Attribute(a) => root = &a.value,
                Expr::Subscript(s) => root = &s.value,
                _ => break,
            }
            hops += 1;
        }
        let Expr::Name(n) = root else {
            return false;
        };
        let id = n.id.as_str();
        match self.names.get(id) {
            None => true,
            Some(info) => {
                !info.is_bound()
                    || info.bindings().any(|b| match b {
                        Binding::Param(_) => true,
                        Binding::SelfParam => hops > 0,
                        _ => false,
                    })
            }
        }
    }

    // ---- attribute names given as strings --------------------------------------------------

    /// The attribute names `expr` can be: its folded value, or, for a loop variable over
    /// constant strings (`for name in ("a", "b")`), each of them. `None` when not known.
    fn constant_names(&mut self, expr: &Expr) -> Option<Vec<String>> {
        if let Some(Folded {
            value: Value::Str(s),
            ..
        }) = self.fold(expr)
        {
            return Some(vec![nfkc(&s).into_owned()]);
        }
        let Expr::Name(n) = expr else {
            return None;
        };
        let info = self.names.get(n.id.as_str())?;
        if !info.is_bound() {
            return None;
        }
        let mut out = Vec::new();
        for binding in info.bindings() {
            let Binding::Loop(iter) = binding else {
                return None;
            };
            let items = match self.fold(iter)?.value {
                Value::Seq(items) | Value::Iter(items) => items,
                _ => return None,
            };
            for item in items {
                let Value::Str(s) = item else {
                    return None;
                };
                out.push(nfkc(&s).into_owned());
            }
        }
        Some(out)
    }

    /// `f.name` where `f` only ever iterates `dataclasses.fields(...)`: the name of a field
    /// the module declared in a dataclass, which the scanner has read.
    fn is_dataclass_field_name(&self, expr: &Expr) -> bool {
        let Expr::Attribute(a) = expr else {
            return false;
        };
        let Expr::Name(field) = a.value.as_ref() else {
            return false;
        };
        if a.attr.as_str() != "name" {
            return false;
        }
        let Some(info) = self.names.get(field.id.as_str()) else {
            return false;
        };
        info.is_bound()
            && info.bindings().all(|b| match b {
                Binding::Loop(Expr::Call(call)) => self.is_dataclass_fields(&call.func),
                _ => false,
            })
    }

    fn is_dataclass_fields(&self, func: &Expr) -> bool {
        match func {
            Expr::Attribute(a) => {
                a.attr.as_str() == "fields" && self.module_of_expr(&a.value) == Some("dataclasses")
            }
            Expr::Name(n) => self.names.get(n.id.as_str()).is_some_and(|info| {
                info.is_bound()
                    && info.bindings().all(|b| {
                        matches!(
                            b,
                            Binding::ImportFrom {
                                module: "dataclasses",
                                attr: "fields"
                            }
                        )
                    })
            }),
            _ => false,
        }
    }

    /// Why a module may not name `name` as an attribute of an object it does not know, if so.
    fn attribute_name_problem(&self, name: &str) -> Option<&'static str> {
        let kind = self.rules.kind(name);
        if name.starts_with('_') || kind & (kind::FORBIDDEN_ATTRIBUTE | kind::HOOK_METHOD) != 0 {
            Some("the forbidden attribute")
        } else if kind & (kind::FORBIDDEN_NAME | kind::ATTRIBUTE_BY_NAME) != 0 {
            Some("the attribute named like the forbidden builtin")
        } else if kind & kind::FORMAT_METHOD != 0 {
            Some("the format method (its format string cannot be checked that way)")
        } else if kind & kind::NAME_TAKING != 0 {
            Some("the name-taking function (its names cannot be checked that way)")
        } else {
            None
        }
    }

    fn check_attribute_by_name(&mut self, func: &str, call: &'a ast::ExprCall) {
        let args = &call.arguments.args;
        let object = args.first().filter(|a| !a.is_starred_expr());
        let name_arg = args
            .get(1)
            .filter(|a| !a.is_starred_expr() && object.is_some());
        let object_module = object.and_then(|o| self.module_of_expr(o));
        let writes = matches!(func, "setattr" | "delattr");
        if let Some(module) = object_module
            && writes
        {
            self.report(
                Rule::ModuleAttribute,
                call.range(),
                format!("{func}() changes the module `{module}`, which every caller shares; keep state in your own objects"),
            );
            return;
        }
        let Some(candidates) = name_arg.and_then(|a| self.constant_names(a)) else {
            // Reads of a dataclass's own field names are ordinary; the worker's guarded
            // getattr refuses private names at run time in any case.
            let declared = !writes
                && object_module.is_none()
                && name_arg.is_some_and(|a| self.is_dataclass_field_name(a));
            if !declared {
                self.report(
                    Rule::DynamicAttribute,
                    call.range(),
                    format!("{func}() needs a constant attribute name so that it can be checked; write `obj.name` instead"),
                );
            }
            return;
        };
        for name in candidates {
            if let Some(module) = object_module {
                self.check_module_attribute_by_name(func, module, &name, call.range());
                continue;
            }
            let problem = self.attribute_name_problem(&name).or_else(|| {
                (self.rules.kind(&name) & kind::CLIENT_ATTRIBUTE != 0
                    && object.is_some_and(|o| self.may_be_client(o)))
                .then_some("the session-control attribute")
            });
            if let Some(what) = problem {
                self.report(
                    Rule::DynamicAttribute,
                    call.range(),
                    format!("{func}() reaches {what} `{name}`"),
                );
            }
        }
    }

    /// `getattr(json, "name")`: the same check as `json.name`, plus: what getattr returns is a
    /// value, so a submodule or a name-taking function must not come out of it.
    fn check_module_attribute_by_name(
        &mut self,
        func: &str,
        module: &str,
        name: &str,
        range: TextRange,
    ) {
        if name.starts_with('_') || self.is_system_module(name) {
            self.report(
                Rule::DynamicAttribute,
                range,
                format!("{func}() reaches the forbidden attribute `{name}` of module `{module}`"),
            );
            return;
        }
        let Some(api) = module_api::lookup(module) else {
            if let Some(what) = self.attribute_name_problem(name) {
                self.report(
                    Rule::DynamicAttribute,
                    range,
                    format!("{func}() reaches {what} `{name}`"),
                );
            }
            return;
        };
        if api.has(name) {
            let builtin = self.rules.kind(name) & (kind::FORBIDDEN_NAME | kind::ATTRIBUTE_BY_NAME)
                != 0
                && !HARMLESS_MODULE_FUNCTIONS.contains(&(module, name));
            let name_taking = NAME_TAKING
                .iter()
                .any(|(m, f, _)| *m == module && *f == name);
            if builtin || name_taking {
                self.report(
                    Rule::DynamicAttribute,
                    range,
                    format!("{func}() reaches `{module}.{name}`, which may only be used by name, in a direct call"),
                );
            }
        } else if let Some(sub) = api.submodule(name) {
            self.report(
                Rule::ModuleAttribute,
                range,
                format!("{func}() hands out the module `{sub}` (`{module}.{name}`) as a value; read its attributes directly"),
            );
        } else {
            self.report(
                Rule::ModuleAttribute,
                range,
                format!("`{name}` is not part of the public API of module `{module}`"),
            );
        }
    }

    /// `operator.attrgetter(...)`, `operator.methodcaller(...)`, `functools.wraps(...,
    /// assigned=...)`: every attribute name they are given must be a checked constant.
    fn check_name_taking_call(&mut self, kind: NameTaking, func: &str, call: &'a ast::ExprCall) {
        let args = &call.arguments.args;
        let keywords = &call.arguments.keywords;
        let unknown_shape = args.iter().any(|a| a.is_starred_expr())
            || keywords.iter().any(|k| k.arg.is_none())
            || (kind == NameTaking::AttrGetter && !keywords.is_empty());
        let mut name_args: Vec<&Expr> = Vec::new();
        let mut sequence_args: Vec<&Expr> = Vec::new();
        match kind {
            NameTaking::AttrGetter => name_args.extend(args.iter()),
            NameTaking::MethodCaller => name_args.extend(args.first()),
            NameTaking::UpdateWrapper | NameTaking::Wraps => {
                let first = if kind == NameTaking::UpdateWrapper {
                    2
                } else {
                    1
                };
                sequence_args.extend(args.iter().skip(first));
                sequence_args.extend(
                    keywords
                        .iter()
                        .filter(|k| {
                            k.arg
                                .as_ref()
                                .is_some_and(|a| matches!(a.as_str(), "assigned" | "updated"))
                        })
                        .map(|k| &k.value),
                );
            }
        }
        let mut names = Vec::new();
        let mut known = !unknown_shape;
        for arg in name_args {
            match self.constant_names(arg) {
                Some(found) => names.extend(found),
                None => known = false,
            }
        }
        for arg in sequence_args {
            match self.fold(arg).map(|f| f.value) {
                Some(Value::Seq(items) | Value::Iter(items)) => {
                    for item in items {
                        match item {
                            Value::Str(s) => names.push(nfkc(&s).into_owned()),
                            _ => known = false,
                        }
                    }
                }
                _ => known = false,
            }
        }
        if !known {
            self.report(
                Rule::DynamicAttribute,
                call.range(),
                format!("{func}() reads the attributes it is given by name; give it constant names so that they can be checked"),
            );
        }
        for name in names {
            // attrgetter("a.b") reads a, then b.
            for part in name.split('.') {
                if let Some(what) = self.attribute_name_problem(part) {
                    self.report(
                        Rule::DynamicAttribute,
                        call.range(),
                        format!("{func}() reaches {what} `{part}`"),
                    );
                }
            }
        }
    }

    // ---- format strings --------------------------------------------------------------------

    /// A format string given to `str.format` and friends must be a constant whose fields name
    /// plain arguments: `{0.__globals__}` or `{x[0]}` read attributes and items at run time,
    /// past every attribute check.
    fn check_format_string(&mut self, format: Option<&Expr>, range: TextRange) {
        let value = format.and_then(|f| self.fold(f)).map(|f| f.value);
        let Some(Value::Str(s)) = value else {
            self.report(
                Rule::FormatString,
                range,
                "the format string is not a constant, so what its fields read cannot be checked; use a constant format string or an f-string".into(),
            );
            return;
        };
        let s = nfkc(&s);
        if let Some(field) = format_fields(&s)
            .into_iter()
            .find(|f| f.contains(['.', '[']))
        {
            // A forbidden or private attribute in a field is already reported with the string.
            let reported = format_field_attributes(&s)
                .iter()
                .any(|a| a.starts_with('_') || self.attribute_forbidden(a));
            if !reported {
                self.report(
                    Rule::FormatString,
                    range,
                    format!("format field `{{{field}}}` reads an attribute or item of an argument at run time; pass the value itself, or use an f-string (which the scanner checks)"),
                );
            }
        }
    }

    // ---- imports, names, attributes --------------------------------------------------------

    fn check_import(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Import(import) => {
                for alias in &import.names {
                    let name = alias.name.as_str();
                    for part in name.split('.') {
                        self.saw(part);
                    }
                    if let Some(asname) = &alias.asname {
                        self.saw(asname.as_str());
                    }
                    if !self.import_allowed(name) {
                        self.report(
                            Rule::ForbiddenImport,
                            alias.range(),
                            format!("`import {name}`: `{name}` is not in the policy's import allowlist ({})", self.allowlist()),
                        );
                    }
                }
            }
            Stmt::ImportFrom(import) => {
                let module = import.module.as_ref().map_or("", |m| m.as_str());
                for part in module.split('.') {
                    self.saw(part);
                }
                for alias in &import.names {
                    self.saw(alias.name.as_str());
                    if let Some(asname) = &alias.asname {
                        self.saw(asname.as_str());
                    }
                }
                if import.level > 0 {
                    self.report(
                        Rule::RelativeImport,
                        import.range(),
                        "relative imports reach outside the module; a module is one file and imports only allowed modules".into(),
                    );
                    return;
                }
                if !self.import_allowed(module) {
                    self.report(
                        Rule::ForbiddenImport,
                        import.range(),
                        format!("`from {module} import ...`: `{module}` is not in the policy's import allowlist ({})", self.allowlist()),
                    );
                    return;
                }
                let api = module_api::lookup(module);
                for alias in &import.names {
                    let name: &str = alias.name.as_str();
                    if name == "*" {
                        self.report(
                            Rule::StarImport,
                            alias.range(),
                            format!("`from {module} import *` hides which names the module takes; import the names you use"),
                        );
                    } else if name.starts_with('_')
                        || self.rules.kind(name)
                            & (kind::FORBIDDEN_ATTRIBUTE | kind::FORBIDDEN_NAME)
                            != 0
                        || self.is_system_module(name)
                    {
                        self.report(
                            Rule::ForbiddenImport,
                            alias.range(),
                            format!("`from {module} import {name}` takes an internal or forbidden name out of an allowed module"),
                        );
                    } else if let Some(api) = api
                        && !api.has(name)
                    {
                        match api.submodule(name) {
                            Some(sub) if self.import_allowed(sub) => {}
                            Some(sub) => self.report(
                                Rule::ForbiddenImport,
                                alias.range(),
                                format!("`from {module} import {name}` takes the module `{sub}`, which is not in the policy's import allowlist"),
                            ),
                            None => self.report(
                                Rule::ForbiddenImport,
                                alias.range(),
                                format!("`from {module} import {name}`: `{name}` is not part of the public API of `{module}`"),
                            ),
                        }
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

    fn check_name(&mut self, name: &ast::ExprName, usage: Use) {
        let id: &str = name.id.as_str();
        let names = self.names;
        self.check_name_info(name, id, names.get(id), usage);
    }

    fn check_name_info(
        &mut self,
        name: &ast::ExprName,
        id: &str,
        info: Option<&NameInfo<'a>>,
        usage: Use,
    ) {
        let kind = self.name_kind(id, info);
        if kind & kind::FORBIDDEN_NAME != 0 {
            self.report(
                Rule::ForbiddenName,
                name.range,
                format!("`{id}` is not available to modules (scan.forbidden_names)"),
            );
        } else if kind & kind::ATTRIBUTE_BY_NAME != 0 {
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
        if !name.ctx.is_load() {
            return;
        }
        let Some(info) = info.filter(|info| info.may_be_module) else {
            return;
        };
        match self.module_state_of(info) {
            ModState::Module(module) if !matches!(usage, Use::Receiver | Use::Alias) => {
                self.report(
                    Rule::ModuleAttribute,
                    name.range,
                    format!("`{id}` (the module `{module}`, or bound to it somewhere in this file) is used as a value; a module may only be used by reading its attributes (`{id}.name`), so that every read can be checked"),
                );
            }
            ModState::Ambiguous => self.report(
                Rule::ModuleAttribute,
                name.range,
                format!("`{id}` is bound to two different modules in this file, so the scanner cannot tell which one this is; give them different names"),
            ),
            _ => {}
        }
        if usage != Use::Callee
            && let Some((_, func)) = self.name_taking_name(id)
        {
            self.report(
                Rule::DynamicAttribute,
                name.range,
                format!("`{func}` reads the attributes it is given by name; call it directly with constant names"),
            );
        }
    }

    fn visit_attribute(&mut self, attribute: &'a ast::ExprAttribute, usage: Use) {
        let attr: &str = attribute.attr.as_str();
        let kind = self.kind_of(attr);
        // `x.__class__.__name__`: the name of a class is only a string.
        if matches!(attr, "__name__" | "__qualname__")
            && attribute.ctx.is_load()
            && let Expr::Attribute(inner) = attribute.value.as_ref()
            && inner.ctx.is_load()
            && inner.attr.as_str() == "__class__"
        {
            self.saw("__class__");
            if self.enter(inner.range) {
                self.usage = Use::Receiver;
                self.visit_expr(&inner.value);
                self.depth -= 1;
            }
            return;
        }
        // A name as the receiver (most attribute reads): one lookup serves both the module
        // check here and the name's own checks.
        if let Expr::Name(receiver) = attribute.value.as_ref() {
            let id: &str = receiver.id.as_str();
            let names = self.names;
            let info = names.get(id);
            let module = match info.filter(|info| info.may_be_module) {
                Some(info) => match self.module_state_of(info) {
                    ModState::Module(module) => Some(module),
                    _ => None,
                },
                None => None,
            };
            self.check_attribute(attribute, attr, kind, usage, module);
            if self.enter(receiver.range) {
                self.check_name_info(receiver, id, info, Use::Receiver);
                self.depth -= 1;
            }
            return;
        }
        let module = self.module_of_expr(&attribute.value);
        self.check_attribute(attribute, attr, kind, usage, module);
        self.usage = Use::Receiver;
        self.visit_expr(&attribute.value);
    }

    fn check_attribute(
        &mut self,
        attribute: &'a ast::ExprAttribute,
        attr: &str,
        kind: u16,
        usage: Use,
        receiver_module: Option<&'a str>,
    ) {
        let range = attribute.range;
        if kind & kind::FORBIDDEN_ATTRIBUTE != 0 {
            self.report(
                Rule::ForbiddenAttribute,
                range,
                format!(
                    "attribute `{attr}` is forbidden: {} (scan.forbidden_attributes)",
                    attribute_kind(attr)
                ),
            );
            return;
        }
        if kind & kind::HOOK_METHOD != 0 {
            self.report(
                Rule::ForbiddenAttribute,
                range,
                format!("attribute `{attr}` is an object-model hook (scan.forbidden_hook_methods), machinery a module has no use for"),
            );
            return;
        }
        let builtin_named = kind & (kind::FORBIDDEN_NAME | kind::ATTRIBUTE_BY_NAME) != 0;
        if let Some(module) = receiver_module {
            if !attribute.ctx.is_load() {
                self.report(
                    Rule::ModuleAttribute,
                    range,
                    format!("`{module}.{attr}` changes an attribute of the module `{module}`, which every caller shares; keep state in your own objects"),
                );
                return;
            }
            if attr.starts_with('_')
                || (kind & kind::SYSTEM_MODULE != 0 && !self.import_allowed(attr))
            {
                self.report(
                    Rule::ForbiddenAttribute,
                    range,
                    format!("`{module}.{attr}` reaches the internals of module `{module}`; use its public API"),
                );
                return;
            }
            if builtin_named && !HARMLESS_MODULE_FUNCTIONS.contains(&(module, attr)) {
                self.report(
                    Rule::ForbiddenAttribute,
                    range,
                    format!("`{module}.{attr}` is named like the forbidden builtin `{attr}` (scan.forbidden_names); only `re.compile` is allowed"),
                );
                return;
            }
            if let Some(api) = module_api::lookup(module) {
                if api.has(attr) {
                    if usage != Use::Callee
                        && let Some((_, func)) = name_taking_in(module, attr)
                    {
                        self.report(
                            Rule::DynamicAttribute,
                            range,
                            format!("`{module}.{func}` reads the attributes it is given by name; call it directly with constant names"),
                        );
                    }
                    return;
                }
                if let Some(sub) = api.submodule(attr) {
                    if !self.import_allowed(sub) {
                        self.report(
                            Rule::ModuleAttribute,
                            range,
                            format!("`{module}.{attr}` is the module `{sub}`, which is not in the policy's import allowlist"),
                        );
                    } else if !matches!(usage, Use::Receiver | Use::Alias) {
                        self.report(
                            Rule::ModuleAttribute,
                            range,
                            format!("the module `{sub}` is used as a value; a module may only be used by reading its attributes, so that every read can be checked"),
                        );
                    }
                    return;
                }
                self.report(
                    Rule::ModuleAttribute,
                    range,
                    format!("`{attr}` is not part of the public API of module `{module}` (what Python 3.11's `dir({module})` lists, modules aside)"),
                );
                return;
            }
            // A module the table does not describe: judged like any other object below.
        }
        if builtin_named {
            self.report(
                Rule::ForbiddenAttribute,
                range,
                format!("attribute `{attr}` is named like a forbidden builtin, so on whatever object it is found it may do what `{attr}` does (scan.forbidden_names)"),
            );
            return;
        }
        if kind & kind::CLIENT_ATTRIBUTE != 0 && self.may_be_client(&attribute.value) {
            self.report(
                Rule::ForbiddenAttribute,
                range,
                format!(
                    "attribute `{attr}` is forbidden on what may be the host's client object: {} (scan.client_attributes)",
                    attribute_kind(attr)
                ),
            );
            return;
        }
        if usage != Use::Callee && attribute.ctx.is_load() && kind & kind::FORMAT_METHOD != 0 {
            // A format method taken as a value (calls are judged with their arguments).
            let format = (attr != "vformat").then_some(attribute.value.as_ref());
            self.check_format_string(format, range);
        }
    }

    /// Is `expr` the builtin `name` (a name the file never binds)?
    fn is_builtin(&self, expr: &Expr, name: &str) -> bool {
        matches!(expr, Expr::Name(n) if n.id.as_str() == name && self.names.is_unbound(name))
    }

    fn visit_call(&mut self, expr: &'a Expr, call: &'a ast::ExprCall) {
        if let Expr::Name(func) = call.func.as_ref()
            && self.rules.kind(func.id.as_str()) & kind::ATTRIBUTE_BY_NAME != 0
        {
            let func: &str = func.id.as_str();
            self.check_attribute_by_name(func, call);
            // The function name itself is fine here; walk only the arguments. The object was
            // judged together with the name (a module there is checked against its API).
            let judged = self.check_folded(expr);
            self.folded += usize::from(judged);
            if call
                .arguments
                .args
                .first()
                .is_some_and(|a| !a.is_starred_expr())
            {
                self.usage = Use::Receiver;
            }
            self.visit_arguments(&call.arguments);
            self.folded -= usize::from(judged);
            return;
        }
        if let Some((kind, func)) = self.name_taking(&call.func) {
            self.check_name_taking_call(kind, func, call);
        }
        if let Expr::Attribute(method) = call.func.as_ref()
            && method.ctx.is_load()
        {
            let args = &call.arguments.args;
            let first_arg = args.first().filter(|a| !a.is_starred_expr());
            match method.attr.as_str() {
                // str.format(fmt, ...) names the format string first.
                "format" | "format_map" if self.is_builtin(&method.value, "str") => {
                    self.check_format_string(first_arg, call.range);
                }
                "format" | "format_map" => {
                    self.check_format_string(Some(&method.value), call.range);
                }
                "vformat" => self.check_format_string(first_arg, call.range),
                _ => {}
            }
        }
        let judged = self.check_folded(expr);
        self.folded += usize::from(judged);
        self.usage = Use::Callee;
        self.visit_expr(&call.func);
        self.visit_arguments(&call.arguments);
        self.folded -= usize::from(judged);
    }

    /// Defining a hook method, or a module-level `__getattr__`.
    fn check_def(&mut self, def: &ast::StmtFunctionDef) {
        let name: &str = def.name.as_str();
        if self.kind_of(name) & kind::HOOK_METHOD != 0 {
            self.report(
                Rule::HookMethod,
                def.name.range(),
                format!("defining `{name}` installs a hook the interpreter calls behind the code's back (scan.forbidden_hook_methods); modules have no use for it"),
            );
        } else if self.scope_depth == 0 && MODULE_HOOKS.contains(&name) {
            self.report(
                Rule::HookMethod,
                def.name.range(),
                format!("a module-level `{name}` (PEP 562) runs whenever code reads a missing attribute of this module or lists it; define it in a class if you need it"),
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

impl<'a> Visitor<'a> for Walker<'a, '_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if !self.enter(stmt.range()) {
            return;
        }
        match stmt {
            Stmt::Import(_) | Stmt::ImportFrom(_) => self.check_import(stmt),
            Stmt::Global(ast::StmtGlobal { names, .. })
            | Stmt::Nonlocal(ast::StmtNonlocal { names, .. }) => {
                for n in names {
                    let id: &str = n.as_str();
                    if self.kind_of(id) & kind::FORBIDDEN_NAME != 0 {
                        self.report(
                            Rule::ForbiddenName,
                            n.range(),
                            format!("`{n}` is not available to modules"),
                        );
                    }
                }
            }
            Stmt::FunctionDef(def) => {
                self.check_def(def);
                self.scope_depth += 1;
                let in_class = std::mem::replace(&mut self.class_body, false);
                visitor::walk_stmt(self, stmt);
                self.class_body = in_class;
                self.scope_depth -= 1;
                self.depth -= 1;
                return;
            }
            Stmt::ClassDef(class) => {
                self.saw(class.name.as_str());
                self.scope_depth += 1;
                let in_class = std::mem::replace(&mut self.class_body, true);
                visitor::walk_stmt(self, stmt);
                self.class_body = in_class;
                self.scope_depth -= 1;
                self.depth -= 1;
                return;
            }
            // `j = json`: `j` becomes another name for the module (tracked through `Names`).
            // Not in a class body, where the name would be a class attribute (`C.j.codecs`).
            Stmt::Assign(assign)
                if !self.class_body
                    && assign.targets.len() == 1
                    && assign.targets[0].is_name_expr()
                    && matches!(assign.value.as_ref(), Expr::Name(_) | Expr::Attribute(_)) =>
            {
                self.usage = Use::Alias;
                self.visit_expr(&assign.value);
                self.visit_expr(&assign.targets[0]);
                self.depth -= 1;
                return;
            }
            _ => {}
        }
        visitor::walk_stmt(self, stmt);
        self.depth -= 1;
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        let usage = std::mem::replace(&mut self.usage, Use::Value);
        if !self.enter(expr.range()) {
            return;
        }
        let mut judged = false;
        let mut cpython_folds = false;
        match expr {
            Expr::Name(name) => self.check_name(name, usage),
            Expr::Attribute(attribute) => {
                self.visit_attribute(attribute, usage);
                self.depth -= 1;
                return;
            }
            Expr::Call(call) => {
                self.visit_call(expr, call);
                self.depth -= 1;
                return;
            }
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
            Expr::BinOp(_) | Expr::Subscript(_) => {
                judged = self.check_folded(expr);
                cpython_folds = judged || self.folded > 0;
            }
            Expr::ListComp(_) | Expr::Generator(_) => {
                judged = self.check_folded(expr);
            }
            _ => {}
        }
        self.folded += usize::from(judged);
        self.cpython_folded += usize::from(cpython_folds);
        visitor::walk_expr(self, expr);
        self.cpython_folded -= usize::from(cpython_folds);
        self.folded -= usize::from(judged);
        self.depth -= 1;
    }

    fn visit_parameters(&mut self, parameters: &'a ast::Parameters) {
        // `def roll(spec, rng=random)`: the parameter becomes another name for the module.
        for default in parameters
            .iter_non_variadic_params()
            .filter_map(|p| p.default.as_deref())
        {
            if matches!(default, Expr::Name(_) | Expr::Attribute(_)) {
                self.usage = Use::Alias;
            }
            self.visit_expr(default);
        }
        for parameter in parameters.iter().map(ast::AnyParameterRef::as_parameter) {
            self.visit_parameter(parameter);
        }
    }

    fn visit_parameter(&mut self, parameter: &'a ast::Parameter) {
        self.saw(parameter.name.as_str());
        visitor::walk_parameter(self, parameter);
    }

    fn visit_except_handler(&mut self, handler: &'a ast::ExceptHandler) {
        let ast::ExceptHandler::ExceptHandler(h) = handler;
        if let Some(name) = &h.name {
            self.saw(name.as_str());
        }
        visitor::walk_except_handler(self, handler);
    }

    fn visit_pattern(&mut self, pattern: &'a ast::Pattern) {
        if !self.enter(pattern.range()) {
            return;
        }
        if let Some(name) = pattern_binding(pattern) {
            self.saw(name);
        }
        visitor::walk_pattern(self, pattern);
        self.depth -= 1;
    }

    fn visit_type_param(&mut self, type_param: &'a ast::TypeParam) {
        self.saw(type_param.name().as_str());
        visitor::walk_type_param(self, type_param);
    }

    fn visit_interpolated_string_element(&mut self, element: &'a ast::InterpolatedStringElement) {
        // Literal text of a format spec (`f"{x:exec}"`) is a constant of the compiled code too;
        // the f-string's own literal parts were judged with the f-string.
        if let ast::InterpolatedStringElement::Literal(lit) = element
            && lit.value.len() <= MAX_WORD_LEN
        {
            self.saw(&nfkc(&lit.value));
        }
        visitor::walk_interpolated_string_element(self, element);
    }

    fn visit_pattern_keyword(&mut self, keyword: &'a ast::PatternKeyword) {
        let attr: &str = keyword.attr.as_str();
        self.saw(attr);
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
            let arg: &str = arg.as_str();
            let kind = self.kind_of(arg);
            if arg.starts_with("__") && kind & (kind::FORBIDDEN_ATTRIBUTE | kind::HOOK_METHOD) != 0
            {
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

fn name_taking_in(module: &str, attr: &str) -> Option<(NameTaking, &'static str)> {
    NAME_TAKING
        .iter()
        .find(|(m, a, _)| *m == module && *a == attr)
        .map(|(_, a, kind)| (*kind, *a))
}

/// The field names of a `str.format` string, nested ones in format specs included:
/// `"{0} {x.a[1]!r:>{w}}"` gives `0`, `x.a[1]`, `w`. Follows CPython's parser: a field ends at
/// its matching brace; its name ends at the first `!` or `:` outside `[...]`.
fn format_fields(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    if s.contains('{') {
        collect_fields(s, 0, &mut out);
    }
    out
}

fn collect_fields<'s>(s: &'s str, level: usize, out: &mut Vec<&'s str>) {
    // Python allows format specs to nest one level; deeper is a ValueError at run time.
    if level > 2 {
        return;
    }
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' if b.get(i + 1) == Some(&b'{') => i += 2,
            b'}' if b.get(i + 1) == Some(&b'}') => i += 2,
            b'{' => {
                let start = i + 1;
                let mut open = 1;
                let mut end = start;
                while end < b.len() {
                    match b[end] {
                        b'{' => open += 1,
                        b'}' => {
                            open -= 1;
                            if open == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    end += 1;
                }
                let field = &s[start..end];
                let fb = field.as_bytes();
                let mut name_end = 0;
                let mut in_index = false;
                while name_end < fb.len() {
                    match fb[name_end] {
                        b'[' => in_index = true,
                        b']' => in_index = false,
                        b'!' | b':' if !in_index => break,
                        _ => {}
                    }
                    name_end += 1;
                }
                out.push(&field[..name_end]);
                collect_fields(&field[name_end..], level + 1, out);
                i = end + 1;
            }
            _ => i += 1,
        }
    }
}

/// Attribute names read by `str.format` fields: `"{0.__class__}"`, `"{x.crypto.key}"`.
fn format_field_attributes(s: &str) -> Vec<String> {
    let mut attrs = Vec::new();
    for field in format_fields(s) {
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
        assert_eq!(
            super::format_fields("{} {0} {name:>{width}} {x[a:b]!r} {{no}}"),
            ["", "0", "name", "width", "x[a:b]"]
        );
        assert_eq!(
            format_field_attributes("{0:{1.__class__}}"),
            ["__class__"],
            "nested fields in a format spec are fields too"
        );
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
