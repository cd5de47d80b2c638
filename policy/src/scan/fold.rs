//! Constant folding of string-building expressions, so that a name spelled in pieces
//! (`"ev" + "al"`, `chr(101) + ...`, `"lave"[::-1]`, `"".join([...])`, `bytes.fromhex(...)`,
//! `"%s%s" % (...)`, f-strings, `.format`, `.replace`, `.lower()`...) is judged by what it spells.
//!
//! Folding is bounded: values larger than [`MAX_LEN`] (counting every item of nested sequences)
//! and integers beyond `i64` are given up on (`None`), and a file gets [`FOLD_STEPS`] steps of
//! folding in all, charged by the size of each value built. Past that the file is rejected as
//! too complex to check (`too-complex`): giving up quietly would let a name spelled in pieces
//! through. So a module cannot make the scanner allocate or loop without end, and nesting
//! comprehensions (`[[... for x in s] for y in s]`) cannot multiply the work.
//!
//! Folding is sound, not merely bounded: a name is folded only when it holds the same value
//! wherever it is read ([`Env`]), and a builtin (`chr`, `bytes.fromhex`, ...) only when the file
//! never rebinds its name. A value the folder computes is therefore the value the code has at
//! run time (or the code fails there), so a name-taking call judged on a folded name cannot be
//! handed a different one.

use std::cell::Cell;

use ruff_python_ast::{self as ast, Expr, Number, Operator, UnaryOp};

use super::names::{Binding, Names};

/// Largest folded value, in bytes, characters or (nested) items.
pub(super) const MAX_LEN: usize = 4096;

/// Folding steps one file may use: a step per expression folded, plus the size of each value
/// built. Ordinary modules use a few thousand; the largest corpus files well under this.
pub(super) const FOLD_STEPS: usize = 2_000_000;

/// A constant value the folder knows.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    Str(String),
    Bytes(Vec<u8>),
    Int(i64),
    /// A list or tuple.
    Seq(Vec<Value>),
    /// An iterator (`reversed(...)`, `map(...)`, a generator expression) and what it yields.
    /// Reading it uses it up, so a name bound to one never counts as constant.
    Iter(Vec<Value>),
}

/// A folded value, whether any operation built it (a plain literal was not built), and whether
/// it was decoded from character codes, hex or escapes (`chr`, `bytes.fromhex`, `%c`, ...).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Folded {
    pub value: Value,
    pub built: bool,
    pub decoded: bool,
}

/// The names of a file that hold constants. A name counts as a constant only when it holds one
/// value wherever it is read:
/// * it is bound exactly once in the whole file, by `name = value` (see [`Names`]: a second
///   binding of any kind, `+=`, a loop, `with`, `except`, walrus, import, `del`, `global` or
///   `nonlocal` makes it unknown);
/// * its value is not an iterator (reading one uses it up);
/// * if its value holds a list (which `.append`, item assignment or any callee can change), the
///   name is read exactly once in the file, where it is folded: nothing else can reach the list.
///   A tuple written out of literals is immutable and may be read any number of times.
///
/// Definitions are folded lazily and memoised, so order does not matter and chains of names
/// cost linear time; a cycle folds to unknown.
#[derive(Debug)]
pub(super) struct Env<'n, 'a> {
    names: &'n Names<'a>,
    /// Folding steps used so far in this file.
    spent: Cell<usize>,
}

impl<'n, 'a> Env<'n, 'a> {
    pub fn new(names: &'n Names<'a>) -> Env<'n, 'a> {
        Env {
            names,
            spent: Cell::new(0),
        }
    }

    /// Does `name` still mean the builtin of that name (the file never binds it)?
    fn builtin(&self, name: &str) -> bool {
        self.names.is_unbound(name)
    }

    /// Have the file's folding steps run out? Every fold is unknown from then on.
    pub fn exhausted(&self) -> bool {
        self.spent.get() >= FOLD_STEPS
    }

    /// Use `steps`; false when the budget is (now) spent.
    fn spend(&self, steps: usize) -> bool {
        self.spent.set(self.spent.get().saturating_add(steps));
        !self.exhausted()
    }

    fn resolve(&self, name: &str) -> Option<Value> {
        let info = self.names.get(name)?;
        let Some(Binding::Assign(expr)) = info.single() else {
            return None;
        };
        if let Some(cached) = &*info.value.borrow() {
            return cached.clone();
        }
        // Cycle guard: while this name is being folded it resolves to unknown.
        *info.value.borrow_mut() = Some(None);
        let decoded = Cell::new(false);
        let value = Folder {
            env: self,
            locals: None,
            decoded: &decoded,
        }
        .fold(expr)
        .map(|f| f.value)
        .filter(|v| {
            !holds_iterator(v) && (!holds_sequence(v) || info.loads <= 1 || literal_tuple(expr))
        });
        *info.value.borrow_mut() = Some(value.clone());
        value
    }
}

fn holds_iterator(value: &Value) -> bool {
    match value {
        Value::Iter(_) => true,
        Value::Seq(items) => items.iter().any(holds_iterator),
        _ => false,
    }
}

fn holds_sequence(value: &Value) -> bool {
    matches!(value, Value::Seq(_) | Value::Iter(_))
}

/// A tuple display of literals (nested tuples of literals included): immutable.
fn literal_tuple(expr: &Expr) -> bool {
    match expr {
        Expr::Tuple(t) => t.elts.iter().all(|e| {
            matches!(
                e,
                Expr::StringLiteral(_) | Expr::BytesLiteral(_) | Expr::NumberLiteral(_)
            ) || literal_tuple(e)
        }),
        _ => false,
    }
}

/// Fold `expr` to a constant, if the folder can.
pub(super) fn fold(expr: &Expr, env: &Env<'_, '_>) -> Option<Folded> {
    let decoded = Cell::new(false);
    let folded = Folder {
        env,
        locals: None,
        decoded: &decoded,
    }
    .fold(expr)?;
    Some(Folded {
        decoded: decoded.get(),
        ..folded
    })
}

struct Folder<'e, 'n, 'a> {
    env: &'e Env<'n, 'a>,
    /// The loop variable of a comprehension being folded, and its current value.
    locals: Option<(String, Value)>,
    /// Set when any step decodes text from codes, hex or escapes.
    decoded: &'e Cell<bool>,
}

/// A value an operation made. Its size is bounded where every fold ends, in `Folder::fold`.
fn built(value: Value) -> Folded {
    Folded {
        value,
        built: true,
        decoded: false,
    }
}

fn plain(value: Value) -> Folded {
    Folded {
        value,
        built: false,
        decoded: false,
    }
}

/// A value's size: bytes or characters of text, one per integer, and for a sequence one plus
/// the sizes of its items, so that sequences of sequences are counted in full.
fn size(value: &Value) -> usize {
    match value {
        Value::Str(s) => s.len(),
        Value::Bytes(b) => b.len(),
        Value::Int(_) => 1,
        Value::Seq(items) | Value::Iter(items) => items
            .iter()
            .fold(1, |total, item| total.saturating_add(size(item))),
    }
}

impl Folder<'_, '_, '_> {
    /// Fold one expression within the file's budget: a step to look at it, and as many as the
    /// value it makes is large.
    fn fold(&self, expr: &Expr) -> Option<Folded> {
        if !self.env.spend(1) {
            return None;
        }
        let folded = self.fold_expr(expr)?;
        let size = size(&folded.value);
        (size <= MAX_LEN && self.env.spend(size)).then_some(folded)
    }

    fn fold_expr(&self, expr: &Expr) -> Option<Folded> {
        match expr {
            Expr::StringLiteral(s) => {
                let text = s.value.to_str();
                (text.len() <= MAX_LEN).then(|| Folded {
                    built: s.value.is_implicit_concatenated(),
                    ..plain(Value::Str(text.to_string()))
                })
            }
            Expr::BytesLiteral(b) => {
                let bytes: Vec<u8> = b.value.bytes().take(MAX_LEN + 1).collect();
                (bytes.len() <= MAX_LEN).then(|| plain(Value::Bytes(bytes)))
            }
            Expr::NumberLiteral(n) => match &n.value {
                Number::Int(i) => i.as_i64().map(|i| plain(Value::Int(i))),
                _ => None,
            },
            Expr::Name(name) => {
                if let Some((local, value)) = &self.locals
                    && local == name.id.as_str()
                {
                    return Some(built(value.clone()));
                }
                self.env.resolve(name.id.as_str()).map(built)
            }
            Expr::List(ast::ExprList { elts, .. }) | Expr::Tuple(ast::ExprTuple { elts, .. }) => {
                if elts.len() > MAX_LEN {
                    return None;
                }
                let mut items = Vec::with_capacity(elts.len());
                let mut any_built = false;
                for e in elts {
                    let f = self.fold(e)?;
                    any_built |= f.built;
                    items.push(f.value);
                }
                Some(Folded {
                    built: any_built,
                    ..plain(Value::Seq(items))
                })
            }
            Expr::BinOp(b) => self.binop(&b.left, b.op, &b.right),
            Expr::UnaryOp(u) if u.op == UnaryOp::USub => match self.fold(&u.operand)?.value {
                Value::Int(i) => Some(built(Value::Int(i.checked_neg()?))),
                _ => None,
            },
            Expr::FString(f) => self.fstring(f),
            Expr::Subscript(s) => self.subscript(s),
            Expr::Call(call) => self.call(call),
            Expr::ListComp(c) => self.comprehension(&c.elt, &c.generators),
            Expr::Generator(c) => {
                let folded = self.comprehension(&c.elt, &c.generators)?;
                let Value::Seq(items) = folded.value else {
                    return None;
                };
                Some(built(Value::Iter(items)))
            }
            _ => None,
        }
    }

    fn binop(&self, left: &Expr, op: Operator, right: &Expr) -> Option<Folded> {
        let l = self.fold(left)?.value;
        let r = self.fold(right)?.value;
        let value = match (op, l, r) {
            (Operator::Add, Value::Str(a), Value::Str(b)) => Value::Str(a + &b),
            (Operator::Add, Value::Bytes(mut a), Value::Bytes(b)) => {
                a.extend(b);
                Value::Bytes(a)
            }
            (Operator::Add, Value::Seq(mut a), Value::Seq(b)) => {
                a.extend(b);
                Value::Seq(a)
            }
            (Operator::Mult, Value::Str(s), Value::Int(n))
            | (Operator::Mult, Value::Int(n), Value::Str(s)) => {
                let n = usize::try_from(n).unwrap_or(0);
                if s.len().checked_mul(n)? > MAX_LEN {
                    return None;
                }
                Value::Str(s.repeat(n))
            }
            (Operator::Mod, Value::Str(fmt), args) => {
                if fmt.contains("%c") {
                    self.decoded.set(true);
                }
                Value::Str(percent_format(&fmt, args)?)
            }
            (op, Value::Int(a), Value::Int(b)) => Value::Int(int_op(op, a, b)?),
            _ => return None,
        };
        Some(built(value))
    }

    fn fstring(&self, f: &ast::ExprFString) -> Option<Folded> {
        let mut out = String::new();
        for part in f.value.iter() {
            match part {
                ast::FStringPart::Literal(lit) => out.push_str(&lit.value),
                ast::FStringPart::FString(fs) => {
                    for element in fs.elements.iter() {
                        match element {
                            ast::InterpolatedStringElement::Literal(lit) => {
                                out.push_str(&lit.value)
                            }
                            ast::InterpolatedStringElement::Interpolation(i) => {
                                let v = self.fold(&i.expression)?.value;
                                out.push_str(&to_str(&v)?);
                            }
                        }
                        if out.len() > MAX_LEN {
                            return None;
                        }
                    }
                }
            }
        }
        Some(built(Value::Str(out)))
    }

    fn subscript(&self, s: &ast::ExprSubscript) -> Option<Folded> {
        let value = self.fold(&s.value)?.value;
        let Expr::Slice(slice) = s.slice.as_ref() else {
            let Value::Int(i) = self.fold(&s.slice)?.value else {
                return None;
            };
            return Some(built(index(&value, i)?));
        };
        let bound = |e: &Option<Box<Expr>>| -> Option<Option<i64>> {
            match e {
                None => Some(None),
                Some(e) => match self.fold(e)?.value {
                    Value::Int(i) => Some(Some(i)),
                    _ => None,
                },
            }
        };
        let (lower, upper, step) = (
            bound(&slice.lower)?,
            bound(&slice.upper)?,
            bound(&slice.step)?,
        );
        Some(built(apply_slice(&value, lower, upper, step.unwrap_or(1))?))
    }

    fn call(&self, call: &ast::ExprCall) -> Option<Folded> {
        let args = &call.arguments.args;
        if !call.arguments.keywords.is_empty() || args.iter().any(|a| a.is_starred_expr()) {
            return None;
        }
        match call.func.as_ref() {
            Expr::Name(name) => self.builtin_call(name.id.as_str(), args),
            Expr::Attribute(attr) => {
                let method = attr.attr.as_str();
                // bytes.fromhex("6576616c")
                if let Expr::Name(owner) = attr.value.as_ref()
                    && owner.id.as_str() == "bytes"
                    && method == "fromhex"
                    && self.env.builtin("bytes")
                {
                    let Value::Str(hex) = self.fold(args.first()?)?.value else {
                        return None;
                    };
                    self.decoded.set(true);
                    return Some(built(Value::Bytes(from_hex(&hex)?)));
                }
                let receiver = self.fold(&attr.value)?.value;
                let folded_args: Option<Vec<Value>> =
                    args.iter().map(|a| self.fold(a).map(|f| f.value)).collect();
                let folded_args = folded_args?;
                if method == "decode"
                    && let [Value::Str(codec)] = folded_args.as_slice()
                    && codec.to_ascii_lowercase().contains("escape")
                {
                    self.decoded.set(true);
                }
                Some(built(method_call(receiver, method, folded_args)?))
            }
            _ => None,
        }
    }

    fn builtin_call(&self, name: &str, args: &[Expr]) -> Option<Folded> {
        if !matches!(
            name,
            "chr" | "str" | "bytes" | "reversed" | "list" | "tuple" | "map"
        ) || !self.env.builtin(name)
        {
            return None;
        }
        let first = || self.fold(args.first()?).map(|f| f.value);
        if matches!(name, "chr" | "bytes" | "map") {
            self.decoded.set(true);
        }
        let value = match (name, args.len()) {
            ("chr", 1) => match first()? {
                Value::Int(i) => Value::Str(char::from_u32(u32::try_from(i).ok()?)?.to_string()),
                _ => return None,
            },
            ("str", 1) => Value::Str(to_str(&first()?)?),
            ("str", 2) => match (first()?, self.fold(&args[1])?.value) {
                (Value::Bytes(b), Value::Str(codec)) => Value::Str(decode(&b, &codec)?),
                _ => return None,
            },
            ("bytes", 1) => match first()? {
                Value::Seq(items) | Value::Iter(items) => Value::Bytes(
                    items
                        .iter()
                        .map(|v| match v {
                            Value::Int(i) => u8::try_from(*i).ok(),
                            _ => None,
                        })
                        .collect::<Option<Vec<u8>>>()?,
                ),
                _ => return None,
            },
            ("bytes", 2) => match (first()?, self.fold(&args[1])?.value) {
                (Value::Str(s), Value::Str(_)) => Value::Bytes(s.into_bytes()),
                _ => return None,
            },
            ("reversed", 1) => {
                // reversed() takes sequences, not iterators.
                let value = first()?;
                if matches!(value, Value::Iter(_)) {
                    return None;
                }
                let mut items = iterate(value)?;
                items.reverse();
                Value::Iter(items)
            }
            ("list" | "tuple", 1) => Value::Seq(iterate(first()?)?),
            ("map", 2) => {
                let Expr::Name(f) = &args[0] else {
                    return None;
                };
                if !self.env.builtin(f.id.as_str()) {
                    return None;
                }
                let items = iterate(self.fold(&args[1])?.value)?;
                let mapped: Option<Vec<Value>> = items
                    .into_iter()
                    .map(|item| match (f.id.as_str(), item) {
                        ("chr", Value::Int(i)) => Some(Value::Str(
                            char::from_u32(u32::try_from(i).ok()?)?.to_string(),
                        )),
                        ("str", v) => to_str(&v).map(Value::Str),
                        _ => None,
                    })
                    .collect();
                Value::Iter(mapped?)
            }
            _ => return None,
        };
        Some(built(value))
    }

    /// `[chr(c) for c in [101, 118]]` and `(x for x in reversed("lave"))`: one generator, no
    /// conditions, a plain loop variable.
    fn comprehension(&self, elt: &Expr, generators: &[ast::Comprehension]) -> Option<Folded> {
        let [generator] = generators else {
            return None;
        };
        if !generator.ifs.is_empty() || generator.is_async {
            return None;
        }
        let Expr::Name(target) = &generator.target else {
            return None;
        };
        let items = iterate(self.fold(&generator.iter)?.value)?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let inner = Folder {
                env: self.env,
                locals: Some((target.id.to_string(), item)),
                decoded: self.decoded,
            };
            out.push(inner.fold(elt)?.value);
        }
        Some(built(Value::Seq(out)))
    }
}

fn int_op(op: Operator, a: i64, b: i64) -> Option<i64> {
    match op {
        Operator::Add => a.checked_add(b),
        Operator::Sub => a.checked_sub(b),
        Operator::Mult => a.checked_mul(b),
        Operator::FloorDiv => (b != 0).then(|| a.div_euclid(b)),
        Operator::Mod => (b != 0).then(|| a.rem_euclid(b)),
        Operator::Pow => a.checked_pow(u32::try_from(b).ok()?),
        Operator::BitXor => Some(a ^ b),
        Operator::BitOr => Some(a | b),
        Operator::BitAnd => Some(a & b),
        Operator::LShift => a.checked_shl(u32::try_from(b).ok()?),
        Operator::RShift => a.checked_shr(u32::try_from(b).ok()?),
        _ => None,
    }
}

/// `str(value)` for the values the folder knows.
fn to_str(value: &Value) -> Option<String> {
    match value {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn iterate(value: Value) -> Option<Vec<Value>> {
    match value {
        Value::Seq(items) | Value::Iter(items) => Some(items),
        Value::Str(s) => Some(s.chars().map(|c| Value::Str(c.to_string())).collect()),
        Value::Bytes(b) => Some(b.into_iter().map(|b| Value::Int(b.into())).collect()),
        Value::Int(_) => None,
    }
}

fn index(value: &Value, i: i64) -> Option<Value> {
    if matches!(value, Value::Iter(_)) {
        return None;
    }
    let items = iterate(value.clone())?;
    let len = i64::try_from(items.len()).ok()?;
    let i = if i < 0 { i + len } else { i };
    items.into_iter().nth(usize::try_from(i).ok()?)
}

/// Python slice semantics on strings, bytes and sequences.
fn apply_slice(value: &Value, lower: Option<i64>, upper: Option<i64>, step: i64) -> Option<Value> {
    if step == 0 || matches!(value, Value::Iter(_)) {
        return None;
    }
    let items = iterate(value.clone())?;
    let len = i64::try_from(items.len()).ok()?;
    let clamp = |v: i64, lo: i64, hi: i64| v.max(lo).min(hi);
    let norm = |v: i64| if v < 0 { v + len } else { v };
    let mut picked = Vec::new();
    if step > 0 {
        let start = clamp(lower.map_or(0, norm), 0, len);
        let stop = clamp(upper.map_or(len, norm), 0, len);
        let mut i = start;
        while i < stop {
            picked.push(items[usize::try_from(i).ok()?].clone());
            i += step;
        }
    } else {
        let start = clamp(lower.map_or(len - 1, norm), -1, len - 1);
        let stop = clamp(upper.map_or(-1, norm), -1, len - 1);
        let stop = if upper.is_none() { -1 } else { stop };
        let mut i = start;
        while i > stop {
            picked.push(items[usize::try_from(i).ok()?].clone());
            i += step;
        }
    }
    Some(match value {
        Value::Str(_) => Value::Str(picked.iter().filter_map(to_str).collect()),
        Value::Bytes(_) => Value::Bytes(
            picked
                .iter()
                .map(|v| match v {
                    Value::Int(i) => u8::try_from(*i).ok(),
                    _ => None,
                })
                .collect::<Option<_>>()?,
        ),
        _ => Value::Seq(picked),
    })
}

fn method_call(receiver: Value, method: &str, args: Vec<Value>) -> Option<Value> {
    Some(match (receiver, method, args.as_slice()) {
        (Value::Str(sep), "join", [items]) => {
            let parts: Option<Vec<String>> = iterate(items.clone())?
                .iter()
                .map(|v| match v {
                    Value::Str(s) => Some(s.clone()),
                    _ => None,
                })
                .collect();
            Value::Str(parts?.join(&sep))
        }
        (Value::Bytes(sep), "join", [items]) => {
            let mut out = Vec::new();
            for (i, v) in iterate(items.clone())?.into_iter().enumerate() {
                if i > 0 {
                    out.extend(&sep);
                }
                match v {
                    Value::Bytes(b) => out.extend(b),
                    _ => return None,
                }
            }
            Value::Bytes(out)
        }
        (Value::Str(s), "format", args) => Value::Str(brace_format(&s, args)?),
        (Value::Str(s), "replace", [Value::Str(a), Value::Str(b)]) => {
            if a.is_empty() {
                return None;
            }
            let out = s.replace(a.as_str(), b);
            (out.len() <= MAX_LEN).then_some(())?;
            Value::Str(out)
        }
        (Value::Str(s), "lower" | "casefold", []) => Value::Str(s.to_lowercase()),
        (Value::Str(s), "upper", []) => Value::Str(s.to_uppercase()),
        (Value::Str(s), "swapcase", []) => Value::Str(
            s.chars()
                .map(|c| {
                    if c.is_uppercase() {
                        c.to_lowercase().collect::<String>()
                    } else {
                        c.to_uppercase().collect()
                    }
                })
                .collect(),
        ),
        (Value::Str(s), "strip", []) => Value::Str(s.trim().to_string()),
        (Value::Str(s), "lstrip", []) => Value::Str(s.trim_start().to_string()),
        (Value::Str(s), "rstrip", []) => Value::Str(s.trim_end().to_string()),
        (Value::Str(s), "title" | "capitalize", []) => Value::Str(s),
        (Value::Str(s), "encode", [] | [Value::Str(_)]) => Value::Bytes(s.into_bytes()),
        (Value::Bytes(b), "decode", []) => Value::Str(decode(&b, "utf-8")?),
        (Value::Bytes(b), "decode", [Value::Str(codec)]) => Value::Str(decode(&b, codec)?),
        (Value::Str(s), "split", []) => Value::Seq(
            s.split_whitespace()
                .map(|p| Value::Str(p.to_string()))
                .collect(),
        ),
        (Value::Str(s), "split", [Value::Str(sep)]) if !sep.is_empty() => Value::Seq(
            s.split(sep.as_str())
                .map(|p| Value::Str(p.to_string()))
                .collect(),
        ),
        _ => return None,
    })
}

/// Decode bytes with the codecs that matter for hiding names: the UTF-8/ASCII/Latin-1 family and
/// the escape-processing codecs (`unicode_escape` turns `\x65` text into `e`).
fn decode(bytes: &[u8], codec: &str) -> Option<String> {
    let codec = codec.to_ascii_lowercase().replace('_', "-");
    match codec.as_str() {
        "utf-8" | "utf8" | "ascii" => String::from_utf8(bytes.to_vec()).ok(),
        "latin-1" | "latin1" | "iso-8859-1" => Some(bytes.iter().map(|&b| b as char).collect()),
        "unicode-escape" | "raw-unicode-escape" => unescape(&String::from_utf8_lossy(bytes)),
        _ => None,
    }
}

/// Python backslash escapes (the subset that spells text).
pub(super) fn unescape(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let take_hex = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>, n: usize| {
            let digits: String = (0..n).filter_map(|_| chars.next()).collect();
            u32::from_str_radix(&digits, 16)
                .ok()
                .and_then(char::from_u32)
        };
        match chars.next()? {
            'x' => out.push(take_hex(&mut chars, 2)?),
            'u' => out.push(take_hex(&mut chars, 4)?),
            'U' => out.push(take_hex(&mut chars, 8)?),
            'n' => out.push('\n'),
            't' => out.push('\t'),
            '\\' => out.push('\\'),
            d @ '0'..='7' => {
                let mut digits = d.to_string();
                while digits.len() < 3 && chars.peek().is_some_and(|c| ('0'..='7').contains(c)) {
                    digits.push(chars.next()?);
                }
                out.push(char::from_u32(u32::from_str_radix(&digits, 8).ok()?)?);
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    Some(out)
}

fn from_hex(hex: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// `"%s%s" % ("ev", "al")`, `%c` with code points.
fn percent_format(fmt: &str, args: Value) -> Option<String> {
    let args = match args {
        Value::Seq(items) => items,
        single => vec![single],
    };
    let mut args = args.into_iter();
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '%' => out.push('%'),
            's' | 'r' | 'd' | 'i' => out.push_str(&to_str(&args.next()?)?),
            'c' => match args.next()? {
                Value::Int(i) => out.push(char::from_u32(u32::try_from(i).ok()?)?),
                Value::Str(s) if s.chars().count() == 1 => out.push_str(&s),
                _ => return None,
            },
            _ => return None,
        }
    }
    args.next().is_none().then_some(out)
}

/// `"{}{}".format("ev", "al")`, `"{0}{1}"`, `"{1}{0}"` (no conversions or field attributes).
fn brace_format(fmt: &str, args: &[Value]) -> Option<String> {
    let mut out = String::new();
    let mut auto = 0usize;
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let field: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let i = if field.is_empty() {
                    auto += 1;
                    auto - 1
                } else {
                    field.parse().ok()?
                };
                out.push_str(&to_str(args.get(i)?)?);
            }
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folded(src: &str) -> Option<String> {
        let parsed = ruff_python_parser::parse_expression(src).unwrap();
        let names = Names::default();
        match fold(&parsed.into_syntax().body, &Env::new(&names))?.value {
            Value::Str(s) => Some(s),
            Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
            other => Some(format!("{other:?}")),
        }
    }

    /// The value of `name` in module `src`, as the folder sees it.
    fn resolved(src: &str, name: &str) -> Option<Value> {
        let module = ruff_python_parser::parse_module(src).unwrap();
        let names = Names::of_body(&module.syntax().body, src.len());
        Env::new(&names).resolve(name)
    }

    fn text(s: &str) -> Option<Value> {
        Some(Value::Str(s.into()))
    }

    #[test]
    fn folds_the_classic_tricks() {
        for src in [
            r#""ev" + "al""#,
            r#"chr(101) + chr(118) + chr(97) + chr(108)"#,
            r#""lave"[::-1]"#,
            r#""".join(["e", "v", "a", "l"])"#,
            r#""".join(chr(c) for c in [101, 118, 97, 108])"#,
            r#""".join(map(chr, [101, 118, 97, 108]))"#,
            r#""".join(reversed("lave"))"#,
            r#"bytes.fromhex("6576616c").decode()"#,
            r#"bytes([101, 118, 97, 108]).decode()"#,
            r#""%s%s" % ("ev", "al")"#,
            r#""%c%c%c%c" % (101, 118, 97, 108)"#,
            r#""{}{}".format("ev", "al")"#,
            r#"f"{'ev'}{'al'}""#,
            r#""EVAL".lower()"#,
            r#""eXvXaXl".replace("X", "")"#,
            r#"b"\\x65\\x76\\x61\\x6c".decode("unicode_escape")"#,
            r#"chr(100 + 1) + "val""#,
            r#""xxevalxx"[2:6]"#,
        ] {
            assert_eq!(folded(src).as_deref(), Some("eval"), "{src}");
        }
    }

    #[test]
    fn decoding_is_noticed() {
        let decoded = |src: &str| {
            let parsed = ruff_python_parser::parse_expression(src).unwrap();
            let names = Names::default();
            fold(&parsed.syntax().body, &Env::new(&names))
                .unwrap()
                .decoded
        };
        assert!(decoded("chr(101) + 'val'"));
        assert!(decoded("bytes.fromhex('6576616c').decode()"));
        assert!(!decoded("'ev' + 'al'"));
    }

    #[test]
    fn order_and_chains_of_names() {
        let src = "b = a + 'al'\na = 'ev'\nc = b\nd = d + 'x'\n";
        assert_eq!(resolved(src, "c"), text("eval"));
        assert_eq!(resolved(src, "d"), None, "a cycle folds to unknown");
    }

    #[test]
    fn bounded() {
        assert_eq!(folded(r#""a" * 10**9"#), None);
        assert_eq!(folded(r#""a" * 2**70"#), None);
        assert_eq!(folded("10 ** 9999"), None);
    }

    #[test]
    fn names_bound_twice_are_unknown() {
        let module = ruff_python_parser::parse_module("a = 'ev'\na = 'x'\nb = 'al'\n").unwrap();
        let names = Names::of_body(&module.syntax().body, 0);
        let env = Env::new(&names);
        let expr = ruff_python_parser::parse_expression("a + b").unwrap();
        assert_eq!(fold(&expr.syntax().body, &env), None);
        let expr = ruff_python_parser::parse_expression("b + b").unwrap();
        assert!(fold(&expr.syntax().body, &env).is_some());
    }

    /// Each of these binds `x` a second time, in a way the old folder did not see, so that the
    /// value read at run time is not the one assigned.
    #[test]
    fn any_second_binding_makes_a_name_unknown() {
        for rebinding in [
            "[getattr(o, x) for x in ['__class__']]",
            "f = lambda x: getattr(o, x)",
            "def f(x):\n    pass",
            "for x in ['a']: pass",
            "x += '_'",
            "try:\n    pass\nexcept E as x:\n    pass",
            "match y:\n    case [x]: pass",
            "(x := '__class__')",
            "with y as x: pass",
            "import x",
            "from m import x",
            "del x",
            "def f():\n    global x",
            "class x: pass",
        ] {
            let src = format!("x = 'name'\n{rebinding}\n");
            assert_eq!(resolved(&src, "x"), None, "{src}");
        }
        assert_eq!(resolved("x = 'name'\nprint(x, x)\n", "x"), text("name"));
    }

    #[test]
    fn lists_fold_only_when_nothing_else_can_change_them() {
        // Read once, where it is folded: nothing can have changed it.
        let once = "parts = ['e', 'v']\nname = ''.join(parts)\n";
        assert_eq!(resolved(once, "name"), text("ev"));
        for change in [
            "parts[1] = 'x'",
            "parts.append('x')",
            "parts.reverse()",
            "alias = parts",
            "mutate(parts)",
        ] {
            let src = format!("parts = ['e', 'v']\n{change}\nname = ''.join(parts)\n");
            assert_eq!(resolved(&src, "name"), None, "{src}");
        }
        // A tuple of literals cannot change, however often it is read.
        let tuple = "parts = ('e', 'v')\nprint(parts)\nname = ''.join(parts)\n";
        assert_eq!(resolved(tuple, "name"), text("ev"));
        // ... but a tuple holding a list can.
        let inner = "t = (['e', 'v'],)\nt[0].append('x')\nname = ''.join(t[0])\n";
        assert_eq!(resolved(inner, "name"), None);
    }

    #[test]
    fn iterators_bound_to_names_are_unknown() {
        // Reading an iterator uses it up: `next(it)` leaves "val", not "lave"[::-1].
        for src in [
            "it = reversed('lave')\nnext(it)\nname = ''.join(it)\n",
            "it = reversed('lave')\nname = ''.join(it)\n",
            "it = map(str, 'eval')\nname = ''.join(it)\n",
            "it = (c for c in 'eval')\nname = ''.join(it)\n",
            "t = (reversed('lave'),)\nname = ''.join([''.join(t[0]) for _ in 'ab'])\n",
        ] {
            assert_eq!(resolved(src, "name"), None, "{src}");
        }
    }

    #[test]
    fn rebound_builtins_are_not_folded() {
        assert_eq!(resolved("name = chr(97)\n", "name"), text("a"));
        assert_eq!(resolved("chr = f\nname = chr(97)\n", "name"), None);
        assert_eq!(resolved("def chr(i): pass\nname = chr(97)\n", "name"), None);
        assert_eq!(
            resolved("bytes = B\nname = bytes.fromhex('61').decode()\n", "name"),
            None
        );
        assert_eq!(
            resolved("str = f\nname = ''.join(map(str, 'ab'))\n", "name"),
            None
        );
        assert_eq!(
            resolved("reversed = f\nname = ''.join(reversed('ab'))\n", "name"),
            None
        );
    }
}
