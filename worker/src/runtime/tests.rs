use super::*;

type Calls = std::rc::Rc<RefCell<Vec<(String, String)>>>;

struct Recorder(Calls);

impl HostBridge for Recorder {
    fn call(&mut self, name: &str, args_json: &str) -> Result<String, String> {
        self.0
            .borrow_mut()
            .push((name.to_string(), args_json.to_string()));
        Ok(match name {
            "kv_get" => "\"stored\"".to_string(),
            _ => "null".to_string(),
        })
    }
}

fn runtime() -> (Runtime, Calls) {
    let mut rt = Runtime::new(RuntimeConfig::from_policy(&pyward_policy::Policy::default()))
        .expect("the runtime builds");
    let calls = std::rc::Rc::new(RefCell::new(Vec::new()));
    rt.set_host(Box::new(Recorder(calls.clone())));
    (rt, calls)
}

fn all_calls() -> BTreeSet<HostCall> {
    HostCall::ALL.into_iter().collect()
}

#[test]
fn commands_load_and_run() {
    let (mut rt, calls) = runtime();
    let src = "import json\nimport pyward\n\n@pyward.command('echo', security='everyone', help='say it')\ndef echo(event, args):\n    print('seen', event['sender'])\n    pyward.reply(args.upper())\n    return json.dumps({'n': len(args)})\n";
    let commands = rt.load("echo", src, &all_calls()).unwrap().commands;
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0].name, "echo");
    assert_eq!(commands[0].security.as_deref(), Some("everyone"));
    let out = rt.call(
        &Target::Command("echo".into()),
        "\"hi\"",
        "{\"sender\": \"@a\"}",
    );
    assert_eq!(out.error, None);
    assert_eq!(out.result.as_deref(), Some("\"{\\\"n\\\": 2}\""));
    assert_eq!(out.stdout, "seen @a\n");
    assert_eq!(
        calls.borrow()[0],
        ("reply".to_string(), "{\"text\": \"HI\"}".to_string())
    );
}

#[test]
fn output_printed_while_loading_is_kept() {
    let (mut rt, _) = runtime();
    let loaded = rt
        .load("p", "print('hello from load')\n", &all_calls())
        .unwrap();
    assert_eq!(loaded.stdout, "hello from load\n");
}

#[test]
fn pipeline_functions_take_json_arguments() {
    let (mut rt, _) = runtime();
    rt.load(
        "p",
        "def add(a, b):\n    return a + b\ndef total(xs=()):\n    return sum(xs)\n",
        &all_calls(),
    )
    .unwrap();
    assert_eq!(
        rt.call(&Target::Function("add".into()), "[2, 3]", "null")
            .result
            .as_deref(),
        Some("5")
    );
    assert_eq!(
        rt.call(
            &Target::Function("total".into()),
            "{\"xs\": [1, 2]}",
            "null"
        )
        .result
        .as_deref(),
        Some("3")
    );
    let private = rt.call(&Target::Function("_x".into()), "[]", "null");
    assert_eq!(private.error.unwrap().kind, "SandboxViolation");
}

#[test]
fn async_handlers_are_driven() {
    let (mut rt, _) = runtime();
    let src = "import pyward\nasync def helper(x):\n    return x * 2\n@pyward.command('dbl')\nasync def dbl(event, args):\n    return await helper(int(args))\n";
    rt.load("a", src, &all_calls()).unwrap();
    let out = rt.call(&Target::Command("dbl".into()), "\"21\"", "{}");
    assert_eq!(out.result.as_deref(), Some("42"), "{:?}", out.error);
}

#[test]
fn allowed_stdlib_imports_work_and_others_are_refused() {
    let (mut rt, _) = runtime();
    let src = "import json, re, math, time, functools, collections, hashlib, datetime, random\nimport collections.abc\ndef f():\n    return [random.randint(1, 6) > 0, hashlib.sha256(b'x').hexdigest()[:4], datetime.date(2026, 1, 2).isoformat()]\n";
    rt.load("ok", src, &all_calls()).unwrap();
    let out = rt.call(&Target::Function("f".into()), "[]", "null");
    assert_eq!(
        out.result.as_deref(),
        Some("[true, \"2d71\", \"2026-01-02\"]"),
        "{:?}",
        out.error
    );
    for (bad, why) in [
        ("import os", "allowlist"),
        ("import sys", "allowlist"),
        ("import gc", "allowlist"),
        ("import _io", "allowlist"),
        ("from random import _os", "private"),
        ("from . import x", "relative"),
    ] {
        let (mut rt, _) = runtime();
        let err = rt.load("bad", bad, &all_calls()).unwrap_err();
        assert!(err.is_sandbox_violation(), "{bad}: {err:?}");
        assert!(err.message.contains(why), "{bad}: {}", err.message);
    }
}

#[test]
fn dangerous_builtins_are_gone() {
    for name in [
        "eval",
        "exec",
        "compile",
        "open",
        "globals",
        "vars",
        "breakpoint",
        "input",
    ] {
        let (mut rt, _) = runtime();
        let err = rt
            .load("b", &format!("x = {name}"), &all_calls())
            .unwrap_err();
        assert_eq!(err.kind, "NameError", "{name}: {err:?}");
    }
    let (mut rt, _) = runtime();
    rt.load("c", "class A:\n    pass\n", &all_calls())
        .expect("class statements still work");
}

#[test]
fn getattr_refuses_private_names() {
    let (mut rt, _) = runtime();
    rt.load(
        "g",
        "def f(n):\n    return callable(getattr((), n))\n",
        &all_calls(),
    )
    .unwrap();
    let out = rt.call(&Target::Function("f".into()), "[\"__class__\"]", "null");
    assert!(
        out.error.as_ref().unwrap().is_sandbox_violation(),
        "{out:?}"
    );
    let out = rt.call(&Target::Function("f".into()), "[\"count\"]", "null");
    assert!(out.error.is_none(), "public attributes work: {out:?}");
}

#[test]
fn ungranted_host_calls_do_not_exist() {
    let (mut rt, _) = runtime();
    let granted = BTreeSet::from([HostCall::Reply]);
    rt.load("h", "import pyward\ndef f():\n    return hasattr(pyward, 'kv_set')\ndef g():\n    pyward.reply('x')\n", &granted).unwrap();
    assert_eq!(
        rt.call(&Target::Function("f".into()), "[]", "null")
            .result
            .as_deref(),
        Some("false")
    );
    assert!(
        rt.call(&Target::Function("g".into()), "[]", "null")
            .error
            .is_none()
    );
}

#[test]
fn output_is_bounded() {
    let (mut rt, _) = runtime();
    rt.load(
        "o",
        "def f():\n    while True:\n        print('x' * 1000)\n",
        &all_calls(),
    )
    .unwrap();
    let out = rt.call(&Target::Function("f".into()), "[]", "null");
    assert!(out.output_limit_hit, "{:?}", out.error);
    assert_eq!(out.stdout.len(), 64 * 1024);
}

#[test]
fn file_io_is_not_compiled_in() {
    let (mut rt, _) = runtime();
    rt.load(
        "f",
        "import json\ndef f():\n    return json.__builtins__['open']('/etc/hostname').read()\n",
        &all_calls(),
    )
    .unwrap();
    let out = rt.call(&Target::Function("f".into()), "[]", "null");
    let err = out.error.expect("open() cannot work without host_env");
    assert!(
        err.kind.contains("UnsupportedOperation") || err.message.contains("not supported"),
        "{err:?}"
    );
}

#[test]
fn import_allowlist_semantics() {
    let allowed = vec!["json".to_string(), "collections".to_string()];
    assert!(import_allowed(&allowed, "json"));
    assert!(import_allowed(&allowed, "collections.abc"));
    assert!(!import_allowed(&allowed, "jsonx"));
    assert!(!import_allowed(&allowed, "json._private"));
    assert!(!import_allowed(&allowed, "os"));
    assert!(!import_allowed(&allowed, ""));
}
