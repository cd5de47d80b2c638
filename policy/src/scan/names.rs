//! Every binding of every name in a file, and how often each name is read: what constant folding
//! and module tracking need in order to know that a name always holds one value.
//!
//! Deliberately flow- and scope-insensitive: the bindings of a name in any function, class or
//! comprehension all count as bindings of that one name. So a conclusion drawn here ("`x` is
//! bound once, to this constant"; "`j` is only ever the module `json`") holds wherever the name
//! is read: a read that sees none of the file's bindings raises `NameError` or finds a builtin,
//! and builtins only count where the file never binds the name. Identifiers arrive
//! NFKC-normalised from the lexer, exactly as Python sees them.

use std::cell::{Cell, RefCell};

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, ExprContext, Stmt};

use super::fold::Value;

/// How a name is bound at one place in the file.
#[derive(Debug, Clone, Copy)]
pub(super) enum Binding<'a> {
    /// `name = value` with a single target, or `name: T = value`.
    Assign(&'a Expr),
    /// `import a.b` (binds `a` to the module `a`) or `import a.b as name` (to `a.b`).
    Import(&'a str),
    /// `from module import attr` or `from module import attr as name`.
    ImportFrom { module: &'a str, attr: &'a str },
    /// `for name in iter`, or `for name in iter` in a comprehension: each item in turn.
    Loop(&'a Expr),
    /// A parameter of a function or lambda: whatever a caller passes, or its default.
    Param(Option<&'a Expr>),
    /// The first parameter, without a default, of a function defined in a class body (`self`,
    /// `cls`): an instance or subclass of the module's own class.
    SelfParam,
    /// Any other binding: augmented or unpacking assignment, `a = b = v`, walrus, `with`,
    /// `except`, `match` captures, `del`, `global`/`nonlocal`, `def`, `class`, type parameters.
    Other,
}

/// Whether a name may hold a module (worked out by the walker, cached here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ModState<'a> {
    NotModule,
    /// Some binding makes it this module (others may bind other values: every read is judged
    /// as a read of the module, which can only be stricter).
    Module(&'a str),
    /// Bound to two different modules: the scanner cannot tell which one a read reaches.
    Ambiguous,
}

/// What the file does with one name.
#[derive(Debug, Default)]
pub(super) struct NameInfo<'a> {
    /// The first binding, kept inline: most names are bound once.
    first: Option<Binding<'a>>,
    more: Vec<Binding<'a>>,
    /// Times the name is read (`Load` context).
    pub loads: u32,
    /// Some binding can make the name a module (an import, or an alias or parameter default
    /// that is a name or attribute).
    pub may_be_module: bool,
    /// The walker's conclusion about modules, once drawn.
    pub module: Cell<Option<ModState<'a>>>,
    /// What the name is to the rules (`ScanRules::kind`), once looked up.
    pub kind: Cell<Option<u16>>,
    /// The folder's value of the name, once worked out (`Some(None)`: not a constant).
    pub value: RefCell<Option<Option<Value>>>,
}

impl<'a> NameInfo<'a> {
    pub fn bindings(&self) -> impl Iterator<Item = &Binding<'a>> {
        self.first.iter().chain(&self.more)
    }

    pub fn is_bound(&self) -> bool {
        self.first.is_some()
    }

    /// The binding, when there is exactly one.
    pub fn single(&self) -> Option<&Binding<'a>> {
        if self.more.is_empty() {
            self.first.as_ref()
        } else {
            None
        }
    }
}

/// The name a `match` pattern binds at its own level (`case x`, `case [*rest]`,
/// `case {**rest}`); the names its sub-patterns bind are found by walking them.
pub(super) fn pattern_binding(pattern: &ast::Pattern) -> Option<&str> {
    match pattern {
        ast::Pattern::MatchAs(ast::PatternMatchAs {
            name: Some(name), ..
        })
        | ast::Pattern::MatchStar(ast::PatternMatchStar {
            name: Some(name), ..
        })
        | ast::Pattern::MatchMapping(ast::PatternMatchMapping {
            rest: Some(name), ..
        }) => Some(name.as_str()),
        _ => None,
    }
}

/// The bindings and reads of every name in a file.
#[derive(Debug, Default)]
pub(super) struct Names<'a> {
    map: rustc_hash::FxHashMap<&'a str, NameInfo<'a>>,
    depth: usize,
    /// Visiting the statements of a class body (not of a function inside it).
    class_body: bool,
    /// The first parameter of the method being visited.
    self_param: Option<&'a ast::Parameter>,
}

/// Deepest nesting followed: the walker stops at the same depth and rejects the file there.
const DEPTH_CAP: usize = super::walk::HARD_DEPTH_CAP;

impl<'a> Names<'a> {
    /// `size_hint`: the source length, to size the table once.
    pub fn of_body(body: &'a [Stmt], size_hint: usize) -> Names<'a> {
        let mut names = Names::default();
        names.map.reserve(size_hint / 64);
        names.visit_body(body);
        names
    }

    pub fn get(&self, name: &str) -> Option<&NameInfo<'a>> {
        self.map.get(name)
    }

    /// The file never binds `name`: a read of it finds the builtin of that name, if any.
    pub fn is_unbound(&self, name: &str) -> bool {
        self.map.get(name).is_none_or(|info| !info.is_bound())
    }

    fn bind(&mut self, name: &'a str, binding: Binding<'a>) {
        let info = self.map.entry(name).or_default();
        info.may_be_module |= matches!(
            binding,
            Binding::Import(_)
                | Binding::ImportFrom { .. }
                | Binding::Assign(Expr::Name(_) | Expr::Attribute(_))
                | Binding::Param(Some(Expr::Name(_) | Expr::Attribute(_)))
        );
        if info.first.is_none() {
            info.first = Some(binding);
        } else {
            info.more.push(binding);
        }
    }
}

impl<'a> Visitor<'a> for Names<'a> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if self.depth > DEPTH_CAP {
            return;
        }
        self.depth += 1;
        match stmt {
            Stmt::Assign(a) if a.targets.len() == 1 && a.targets[0].is_name_expr() => {
                if let Expr::Name(n) = &a.targets[0] {
                    self.bind(n.id.as_str(), Binding::Assign(&a.value));
                }
                self.visit_expr(&a.value);
            }
            Stmt::AnnAssign(ast::StmtAnnAssign {
                target,
                annotation,
                value: Some(value),
                ..
            }) if target.is_name_expr() => {
                if let Expr::Name(n) = target.as_ref() {
                    self.bind(n.id.as_str(), Binding::Assign(value));
                }
                self.visit_expr(value);
                self.visit_annotation(annotation);
            }
            Stmt::For(f) if f.target.is_name_expr() => {
                if let Expr::Name(n) = f.target.as_ref() {
                    self.bind(n.id.as_str(), Binding::Loop(&f.iter));
                }
                self.visit_expr(&f.iter);
                self.visit_body(&f.body);
                self.visit_body(&f.orelse);
            }
            _ => {
                match stmt {
                    Stmt::FunctionDef(f) => {
                        self.bind(f.name.as_str(), Binding::Other);
                        let params = &f.parameters;
                        self.self_param = if self.class_body {
                            params
                                .posonlyargs
                                .first()
                                .or(params.args.first())
                                .filter(|p| p.default.is_none())
                                .map(|p| &p.parameter)
                        } else {
                            None
                        };
                        let in_class = std::mem::replace(&mut self.class_body, false);
                        visitor::walk_stmt(self, stmt);
                        self.class_body = in_class;
                        self.depth -= 1;
                        return;
                    }
                    Stmt::ClassDef(c) => {
                        self.bind(c.name.as_str(), Binding::Other);
                        let in_class = std::mem::replace(&mut self.class_body, true);
                        visitor::walk_stmt(self, stmt);
                        self.class_body = in_class;
                        self.depth -= 1;
                        return;
                    }
                    Stmt::Import(i) => {
                        for alias in &i.names {
                            let dotted = alias.name.as_str();
                            match &alias.asname {
                                Some(asname) => self.bind(asname.as_str(), Binding::Import(dotted)),
                                None => {
                                    let top = dotted.split('.').next().unwrap_or(dotted);
                                    self.bind(top, Binding::Import(top));
                                }
                            }
                        }
                    }
                    Stmt::ImportFrom(i) => {
                        let module = i.module.as_ref().map_or("", |m| m.as_str());
                        for alias in &i.names {
                            let attr = alias.name.as_str();
                            let bound = alias.asname.as_ref().map_or(attr, |a| a.as_str());
                            // A relative import names no module of ours: whatever it binds is
                            // unknown (and the import itself is rejected).
                            let binding = if i.level == 0 {
                                Binding::ImportFrom { module, attr }
                            } else {
                                Binding::Other
                            };
                            self.bind(bound, binding);
                        }
                    }
                    Stmt::Global(ast::StmtGlobal { names, .. })
                    | Stmt::Nonlocal(ast::StmtNonlocal { names, .. }) => {
                        for n in names {
                            self.bind(n.as_str(), Binding::Other);
                        }
                    }
                    _ => {}
                }
                visitor::walk_stmt(self, stmt);
            }
        }
        self.depth -= 1;
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if self.depth > DEPTH_CAP {
            return;
        }
        if let Expr::Name(n) = expr {
            match n.ctx {
                ExprContext::Load => self.map.entry(n.id.as_str()).or_default().loads += 1,
                _ => self.bind(n.id.as_str(), Binding::Other),
            }
            return;
        }
        self.depth += 1;
        visitor::walk_expr(self, expr);
        self.depth -= 1;
    }

    fn visit_parameters(&mut self, parameters: &'a ast::Parameters) {
        for default in parameters
            .iter_non_variadic_params()
            .filter_map(|p| p.default.as_deref())
        {
            self.visit_expr(default);
        }
        for p in parameters.iter_non_variadic_params() {
            let binding = if self
                .self_param
                .is_some_and(|s| std::ptr::eq(s, &p.parameter))
            {
                Binding::SelfParam
            } else {
                Binding::Param(p.default.as_deref())
            };
            self.bind(p.parameter.name.as_str(), binding);
            visitor::walk_parameter(self, &p.parameter);
        }
        for p in [&parameters.vararg, &parameters.kwarg]
            .into_iter()
            .flatten()
        {
            self.bind(p.name.as_str(), Binding::Param(None));
            visitor::walk_parameter(self, p);
        }
    }

    fn visit_comprehension(&mut self, comprehension: &'a ast::Comprehension) {
        if let Expr::Name(n) = &comprehension.target {
            self.bind(n.id.as_str(), Binding::Loop(&comprehension.iter));
            self.visit_expr(&comprehension.iter);
            for condition in &comprehension.ifs {
                self.visit_expr(condition);
            }
        } else {
            visitor::walk_comprehension(self, comprehension);
        }
    }

    fn visit_except_handler(&mut self, handler: &'a ast::ExceptHandler) {
        let ast::ExceptHandler::ExceptHandler(h) = handler;
        if let Some(name) = &h.name {
            self.bind(name.as_str(), Binding::Other);
        }
        visitor::walk_except_handler(self, handler);
    }

    fn visit_pattern(&mut self, pattern: &'a ast::Pattern) {
        if self.depth > DEPTH_CAP {
            return;
        }
        if let Some(name) = pattern_binding(pattern) {
            self.bind(name, Binding::Other);
        }
        self.depth += 1;
        visitor::walk_pattern(self, pattern);
        self.depth -= 1;
    }

    fn visit_type_param(&mut self, type_param: &'a ast::TypeParam) {
        self.bind(type_param.name().as_str(), Binding::Other);
        visitor::walk_type_param(self, type_param);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str, name: &str) -> (Vec<&'static str>, u32) {
        let parsed = ruff_python_parser::parse_module(src).unwrap();
        let names = Names::of_body(&parsed.syntax().body, src.len());
        let Some(info) = names.get(name) else {
            return (Vec::new(), 0);
        };
        let kinds = info
            .bindings()
            .map(|b| match b {
                Binding::Assign(_) => "assign",
                Binding::Import(_) => "import",
                Binding::ImportFrom { .. } => "from",
                Binding::Loop(_) => "loop",
                Binding::Param(_) => "param",
                Binding::SelfParam => "self",
                Binding::Other => "other",
            })
            .collect();
        (kinds, info.loads)
    }

    #[test]
    fn every_way_of_binding_a_name_counts() {
        for (src, expected) in [
            ("x = 1\n", vec!["assign"]),
            ("x: int = 1\n", vec!["assign"]),
            ("x: int\n", vec!["other"]),
            ("x = y = 1\n", vec!["other"]),
            ("x, y = 1, 2\n", vec!["other"]),
            ("x += 1\n", vec!["other"]),
            ("for x in y: pass\n", vec!["loop"]),
            ("for x, z in y: pass\n", vec!["other"]),
            ("[0 for x in y]\n", vec!["loop"]),
            ("(x := 1)\n", vec!["other"]),
            ("with y as x: pass\n", vec!["other"]),
            ("try:\n    pass\nexcept E as x:\n    pass\n", vec!["other"]),
            ("match y:\n    case [x]: pass\n", vec!["other"]),
            ("match y:\n    case {**x}: pass\n", vec!["other"]),
            ("match y:\n    case [*x]: pass\n", vec!["other"]),
            ("del x\n", vec!["other"]),
            ("def f():\n    global x\n", vec!["other"]),
            ("def x(): pass\n", vec!["other"]),
            ("class x: pass\n", vec!["other"]),
            ("def f(x): pass\n", vec!["param"]),
            ("def f(*x): pass\n", vec!["param"]),
            ("def f(**x): pass\n", vec!["param"]),
            ("def f(*, x=1): pass\n", vec!["param"]),
            ("f = lambda x: 0\n", vec!["param"]),
            ("class C:\n    def f(x, y): pass\n", vec!["self"]),
            ("class C:\n    def f(x=1): pass\n", vec!["param"]),
            ("class C:\n    def f(y, x): pass\n", vec!["param"]),
            (
                "class C:\n    def f(y):\n        def g(x): pass\n",
                vec!["param"],
            ),
            ("def f[x](): pass\n", vec!["other"]),
            ("import x\n", vec!["import"]),
            ("import x.y\n", vec!["import"]),
            ("import a.b as x\n", vec!["import"]),
            ("from a import x\n", vec!["from"]),
            ("from a import b as x\n", vec!["from"]),
            ("from . import x\n", vec!["other"]),
            ("x = 1\ndef f(x): pass\n", vec!["assign", "param"]),
        ] {
            assert_eq!(kinds(src, "x").0, expected, "{src}");
        }
    }

    #[test]
    fn reads_are_counted() {
        assert_eq!(
            kinds("x = 1\nprint(x, x)\nx.y = 2\n", "x"),
            (vec!["assign"], 3)
        );
        assert_eq!(kinds("x = [1]\nx[0] = 2\n", "x").1, 1);
    }
}
