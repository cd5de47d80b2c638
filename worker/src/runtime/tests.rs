//! Each test starts CPython in its own process (nextest runs one test per process; CPython
//! cannot be started twice in one).

#![forbid(unsafe_code)]

use super::*;

type Calls = std::rc::Rc<RefCell<Vec<(String, String)>>>;

struct Recorder(Calls);

impl HostBridge for Recorder {
    fn call(&mut self, call: HostCall, args: Json) -> Result<Json, HostCallError> {
        self.0
            .borrow_mut()
            .push((call.name().to_string(), args.get().to_string()));
        let answer = match call {
            HostCall::KvGet => "\"stored\"",
            // The broker's answer: status, header pairs, the body as code points 0-255.
            HostCall::HttpRequest => {
                r#"{"status": 201, "headers": [["x-a", "1"], ["x-a", "2"]], "body": "{\"ok\": true}\u00ff", "url": "https://h.test/x"}"#
            }
            _ => "null",
        };
        Ok(answer.parse().expect("the recorder answers JSON"))
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
    assert_eq!(commands[0].security, Some(Security::Everyone));
    let out = rt.call(
        &Target::Command("echo".into()),
        "\"hi\"",
        "{\"sender\": \"@a\"}",
    );
    assert_eq!(out.error, None);
    assert_eq!(out.result_json(), Some("\"{\\\"n\\\": 2}\""));
    assert_eq!(out.stdout, "seen @a\n");
    assert_eq!(
        calls.borrow()[0],
        ("reply".to_string(), "{\"text\": \"HI\"}".to_string())
    );
}

#[test]
fn events_and_security_levels_are_the_policys() {
    let (mut rt, _) = runtime();
    // Every event the policy knows can be handled; another is refused, naming the policy's list.
    let handlers: String = KNOWN_EVENTS
        .iter()
        .map(|e| format!("@pyward.on({e:?})\ndef on_{e}(event):\n    return None\n"))
        .collect();
    rt.load(
        "events",
        &format!("import pyward\n{handlers}"),
        &all_calls(),
    )
    .unwrap();
    let err = rt
        .load(
            "bad",
            "import pyward\n@pyward.on('typing')\ndef f(e):\n    pass\n",
            &all_calls(),
        )
        .unwrap_err();
    assert!(
        err.message
            .contains(&format!("known: {}", KNOWN_EVENTS.join(", "))),
        "{err:?}"
    );
    for (name, level) in [
        ("owner", Security::Owner),
        ("sudo", Security::Sudo),
        ("everyone", Security::Everyone),
    ] {
        assert_eq!(security_level(name).unwrap(), level);
    }
    assert!(security_level("root").is_err());
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
            .result_json(),
        Some("5")
    );
    assert_eq!(
        rt.call(
            &Target::Function("total".into()),
            "{\"xs\": [1, 2]}",
            "null"
        )
        .result_json(),
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
    assert_eq!(out.result_json(), Some("42"), "{:?}", out.error);
}

#[test]
fn allowed_stdlib_imports_work_and_others_are_refused() {
    let (mut rt, _) = runtime();
    let src = "import json, re, math, time, functools, collections, hashlib, datetime, random\nimport collections.abc\ndef f():\n    return [random.randint(1, 6) > 0, hashlib.sha256(b'x').hexdigest()[:4], datetime.date(2026, 1, 2).isoformat()]\n";
    rt.load("ok", src, &all_calls()).unwrap();
    let out = rt.call(&Target::Function("f".into()), "[]", "null");
    assert_eq!(
        out.result_json(),
        Some("[true, \"2d71\", \"2026-01-02\"]"),
        "{:?}",
        out.error
    );
    for (bad, why) in [
        ("import os", "allowlist"),
        ("import sys", "allowlist"),
        ("import gc", "allowlist"),
        ("import _io", "allowlist"),
        ("import ctypes", "allowlist"),
        ("from random import _os", "private"),
        ("from . import x", "relative"),
        ("from collections import abc, _sys", "private"),
    ] {
        let err = rt.load("bad", bad, &all_calls()).unwrap_err();
        assert!(err.is_sandbox_violation(), "{bad}: {err:?}");
        assert!(err.message.contains(why), "{bad}: {}", err.message);
    }
}

#[test]
fn dangerous_builtins_are_gone() {
    let (mut rt, _) = runtime();
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
        let err = rt
            .load("b", &format!("x = {name}"), &all_calls())
            .unwrap_err();
        assert_eq!(err.kind, "NameError", "{name}: {err:?}");
    }
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
            .result_json(),
        Some("false")
    );
    assert!(
        rt.call(&Target::Function("g".into()), "[]", "null")
            .error
            .is_none()
    );
}

/// Refuses every host call the way its `text` argument names.
struct Refuser;

impl HostBridge for Refuser {
    fn call(&mut self, _call: HostCall, args: Json) -> Result<Json, HostCallError> {
        let args: serde_json::Value = serde_json::from_str(args.get()).unwrap();
        Err(match args["text"].as_str().unwrap() {
            "denied" => HostCallError::denied("not yours"),
            "budget" => HostCallError::OverBudget {
                message: "too much".into(),
            },
            "invalid" => HostCallError::Invalid {
                message: "too late".into(),
            },
            _ => HostCallError::failed("the bot fell over"),
        })
    }
}

#[test]
fn each_kind_of_host_refusal_is_its_own_exception() {
    let (mut rt, _) = runtime();
    rt.set_host(Box::new(Refuser));
    let src = "import pyward\ndef f(kind):\n    try:\n        pyward.reply(kind)\n    except Exception as e:\n        return [type(e).__name__, str(e)]\n";
    rt.load("r", src, &all_calls()).unwrap();
    for (kind, expected) in [
        ("denied", r#"["SandboxViolation", "not yours"]"#),
        ("budget", r#"["BudgetExceeded", "too much"]"#),
        ("invalid", r#"["ValueError", "too late"]"#),
        (
            "failed",
            r#"["RuntimeError", "host call reply failed: the bot fell over"]"#,
        ),
    ] {
        let out = rt.call(
            &Target::Function("f".into()),
            &format!("[\"{kind}\"]"),
            "null",
        );
        assert_eq!(out.result_json(), Some(expected), "{kind}: {out:?}");
    }
}

#[test]
fn what_json_dumps_writes_that_is_not_json_is_never_passed_on_as_json() {
    let (mut rt, calls) = runtime();
    let src = "import pyward\ndef args():\n    try:\n        pyward.kv_set('k', float('nan'))\n    except RuntimeError as e:\n        return str(e)\ndef result():\n    return [float('inf')]\n";
    rt.load("n", src, &all_calls()).unwrap();
    let out = rt.call(&Target::Function("args".into()), "[]", "null");
    let said = out.result_json().unwrap();
    assert!(
        said.contains("host call kv_set failed: bad arguments"),
        "{said}"
    );
    assert!(calls.borrow().is_empty(), "the host never saw them");
    let out = rt.call(&Target::Function("result".into()), "[]", "null");
    assert_eq!(out.error, None);
    assert_eq!(out.result_json(), None);
    match out.result {
        Some(Returned::NotJson { bytes, error }) => {
            assert_eq!(bytes, "[Infinity]".len());
            assert!(!error.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn http_requests_go_to_the_host_with_bytes_intact() {
    let (mut rt, calls) = runtime();
    let src = "import pyward\ndef f():\n    r = pyward.http.request('POST', 'https://h.test/x', headers={'A': 'b'}, body=b'\\x00\\xff\\xe9', timeout=2.5)\n    return [r.status, r.headers['x-a'], r.body[-1], r['status'], r.url]\n";
    rt.load("w", src, &all_calls()).unwrap();
    let out = rt.call(&Target::Function("f".into()), "[]", "null");
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(
        out.result_json(),
        Some("[201, \"1, 2\", 255, 201, \"https://h.test/x\"]")
    );
    let (name, args) = calls.borrow()[0].clone();
    assert_eq!(name, "http_request");
    let args: serde_json::Value = serde_json::from_str(&args).unwrap();
    assert_eq!(args["method"], "POST");
    assert_eq!(args["headers"], serde_json::json!([["A", "b"]]));
    assert_eq!(args["body"], "\u{0}\u{ff}\u{e9}");
    assert_eq!(args["timeout_ms"], 2500);
}

#[test]
fn http_does_not_exist_without_its_grant() {
    let (mut rt, calls) = runtime();
    let granted = BTreeSet::from([HostCall::Reply]);
    let src = "import pyward\ndef f():\n    return [hasattr(pyward, 'http'), hasattr(pyward, 'http_request'), __name__]\ndef g():\n    raise ValueError('x')\n";
    rt.load("w", src, &granted).unwrap();
    let out = rt.call(&Target::Function("f".into()), "[]", "null");
    // Removing the http names must not rename the module (it once did: a loop variable).
    assert_eq!(
        out.result_json(),
        Some("[false, false, \"w\"]"),
        "{:?}",
        out.error
    );
    let err = rt
        .call(&Target::Function("g".into()), "[]", "null")
        .error
        .unwrap();
    assert!(err.traceback.contains("<module w>"), "{}", err.traceback);
    assert!(calls.borrow().is_empty());
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
fn the_audit_hook_refuses_writes_even_when_the_module_catches_it() {
    let (mut rt, _) = runtime();
    let src = "import json\ndef f():\n    o = json.__builtins__['open']\n    try:\n        o('/tmp/pyward-audit-test', 'w')\n    except Exception as e:\n        return type(e).__name__\n";
    rt.load("w", src, &all_calls()).unwrap();
    let out = rt.call(&Target::Function("f".into()), "[]", "null");
    assert_eq!(out.result_json(), Some("\"SandboxViolation\""), "{out:?}");
    let violation = out.violation.expect("a caught refusal is still recorded");
    assert_eq!(violation.event, "open");
    assert!(violation.detail.contains("writing"), "{violation:?}");
    assert!(!std::path::Path::new("/tmp/pyward-audit-test").exists());
    // Reading is the kernel's to decide (Landlock), not the tripwire's.
    let src = "import json\ndef f():\n    return len(json.__builtins__['open']('/etc/hostname').read()) > 0\n";
    rt.load("r", src, &all_calls()).unwrap();
    let out = rt.call(&Target::Function("f".into()), "[]", "null");
    assert_eq!(out.violation, None);
}

#[test]
fn processes_and_sockets_are_refused_by_the_audit_hook() {
    let (mut rt, _) = runtime();
    let src = "import json\ndef f(what):\n    imp = json.__builtins__['__import__']\n    if what == 'system':\n        imp('os').system('true')\n    elif what == 'socket':\n        imp('socket').socket()\n    elif what == 'ctypes':\n        imp('ctypes').CDLL(None)\n";
    rt.load("p", src, &all_calls()).unwrap();
    for (what, event) in [
        ("system", "os.system"),
        ("socket", "socket.__new__"),
        ("ctypes", "import"),
    ] {
        let out = rt.call(
            &Target::Function("f".into()),
            &format!("[\"{what}\"]"),
            "null",
        );
        let violation = out
            .violation
            .unwrap_or_else(|| panic!("{what}: {:?}", out.error));
        assert_eq!(violation.event, event, "{what}");
        assert_eq!(out.error.unwrap().kind, "SandboxViolation", "{what}");
    }
}

#[test]
fn frames_are_refused_to_module_code_but_not_to_the_standard_library() {
    let (mut rt, _) = runtime();
    let src = "import collections, dataclasses, enum, typing\nPoint = collections.namedtuple('Point', 'x y')\nT = typing.TypeVar('T')\nclass N(typing.NamedTuple):\n    a: int\n@dataclasses.dataclass\nclass D:\n    x: int = 1\nclass Color(enum.Enum):\n    RED = 1\ndef ok():\n    return [Point(1, 2).x, N(3).a, D().x, Color.RED.value]\ndef frame():\n    try:\n        1 / 0\n    except ZeroDivisionError as e:\n        return str(e.__traceback__.tb_frame)\n";
    rt.load("f", src, &all_calls()).unwrap();
    let out = rt.call(&Target::Function("ok".into()), "[]", "null");
    assert_eq!(out.result_json(), Some("[1, 3, 1, 1]"), "{out:?}");
    assert_eq!(out.violation, None);
    let out = rt.call(&Target::Function("frame".into()), "[]", "null");
    let violation = out.violation.expect("tb_frame from module code");
    assert_eq!(violation.event, "object.__getattr__");
    assert!(violation.detail.contains("tb_frame"), "{violation:?}");
}

#[test]
fn tracebacks_show_the_modules_own_lines() {
    let (mut rt, _) = runtime();
    rt.load(
        "t",
        "x = 1\n\ndef f():\n    return {}['missing']\n",
        &all_calls(),
    )
    .unwrap();
    let err = rt
        .call(&Target::Function("f".into()), "[]", "null")
        .error
        .unwrap();
    assert_eq!(err.kind, "KeyError");
    assert!(
        err.traceback.contains("<module t>\", line 4, in f")
            && err.traceback.contains("return {}['missing']"),
        "{}",
        err.traceback
    );
    assert!(
        !err.traceback.contains("pyward bootstrap"),
        "{}",
        err.traceback
    );
}

#[test]
fn results_too_deep_for_json_are_errors() {
    let (mut rt, _) = runtime();
    rt.load(
        "d",
        "def f():\n    x = []\n    for _ in range(100000):\n        x = [x]\n    return x\n",
        &all_calls(),
    )
    .unwrap();
    let out = rt.call(&Target::Function("f".into()), "[]", "null");
    assert_eq!(out.result, None);
    assert!(
        out.error
            .as_ref()
            .unwrap()
            .message
            .contains("nested too deeply"),
        "{out:?}"
    );
}

#[test]
fn asyncio_handlers_run_on_a_loop_without_io() {
    let (mut rt, _) = runtime();
    let src = "import asyncio\nimport pyward\nasync def one(x):\n    await asyncio.sleep(0.01)\n    return x\n@pyward.command('g')\nasync def g(event, args):\n    return sum(await asyncio.gather(one(1), one(2)))\ndef forever():\n    async def wait():\n        await asyncio.get_running_loop().create_future()\n    return asyncio.run(wait())\n";
    rt.load("a", src, &all_calls()).unwrap();
    let out = rt.call(&Target::Command("g".into()), "\"\"", "{}");
    assert_eq!(out.result_json(), Some("3"), "{out:?}");
    let out = rt.call(&Target::Function("forever".into()), "[]", "null");
    assert!(
        out.error
            .as_ref()
            .unwrap()
            .message
            .contains("can never finish"),
        "{out:?}"
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
    assert!(!import_allowed(&allowed, "__future__"));
    let allowed = vec!["__future__".to_string()];
    assert!(import_allowed(&allowed, "__future__"));
    assert!(!import_allowed(&allowed, "__future__.x"));
}

#[test]
fn inside_the_sandbox_an_unloaded_c_extension_is_an_import_error_not_a_kill() {
    let (mut rt, _) = runtime();
    rt.sandbox_applied();
    let src = "import json\ndef f():\n    try:\n        json.__builtins__['__import__']('_curses')\n    except ImportError as e:\n        return str(e)\n";
    rt.load("c", src, &all_calls()).unwrap();
    let out = rt.call(&Target::Function("f".into()), "[]", "null");
    let text = out.result_json().unwrap_or_default();
    assert!(
        text.contains("C extension that was not loaded before the sandbox")
            && !text.starts_with("pyward:"),
        "{text}"
    );
}

#[test]
fn the_scanners_table_of_the_pyward_module_is_what_the_runtime_defines() {
    // The scanner allows reading only the attributes its table lists on `pyward`; a function
    // added to pyward.py but not to the table would be refused in every module that uses it.
    let (_rt, _) = runtime();
    let public: Vec<String> = Python::attach(|py| {
        let pyward = py.import("pyward").unwrap();
        let types = py.import("types").unwrap();
        let module_type = types.getattr("ModuleType").unwrap();
        let mut names: Vec<String> = pyward
            .dict()
            .iter()
            .filter(|(_, value)| !value.is_instance(&module_type).unwrap())
            .map(|(name, _)| name.extract::<String>().unwrap())
            .filter(|name| !name.starts_with('_'))
            .collect();
        names.sort();
        names
    });
    let table: Vec<String> = pyward_policy::scan::module_public_api("pyward")
        .expect("pyward is in the table")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(public, table, "pyward.py and the scanner's table disagree");
}
