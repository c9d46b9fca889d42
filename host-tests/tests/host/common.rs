#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! Shared harness: the composed app in-process, with scripted upstreams.

use std::sync::{Arc, OnceLock};

use apex_host::App;
use apex_host::app::AppConfig;
use apex_host::kv::KvStore;
use apex_host::outbound::Scripted;
use apex_host::state::Variables;
use http_body_util::{BodyExt, Full};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Compile each component once per process: every test of the binary shares it (and machine code
/// is cached across runs).
pub fn compiled(wasm: &'static [u8]) -> (Engine, Component) {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    static CACHE: OnceLock<std::sync::Mutex<Vec<(usize, Component)>>> = OnceLock::new();
    let engine = ENGINE
        .get_or_init(|| apex_host::engine::new_engine().expect("engine"))
        .clone();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap();
    let key = wasm.as_ptr() as usize;
    if let Some((_, component)) = cache.iter().find(|(k, _)| *k == key) {
        return (engine, component.clone());
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("apex-component-cache");
    let component =
        apex_host::engine::load_component(&engine, wasm, Some(&dir)).expect("compile component");
    cache.push((key, component.clone()));
    (engine, component)
}

pub struct Gateway {
    pub app: App,
    pub upstream: Arc<Scripted>,
    pub kv: Arc<KvStore>,
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        apex_adapter_kit::http::header(&self.headers, name)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `data:` payloads of an SSE body, parsed (`[DONE]` excluded).
    pub fn sse_json(&self) -> Vec<serde_json::Value> {
        self.text()
            .split("\n\n")
            .filter_map(|event| event.lines().find_map(|l| l.strip_prefix("data: ")))
            .filter(|data| *data != "[DONE]")
            .map(|data| {
                serde_json::from_str(data).unwrap_or_else(|e| panic!("bad SSE data {data}: {e}"))
            })
            .collect()
    }
}

impl Gateway {
    /// The composed app with `config` (TOML) and variables.
    pub fn new(config: &str, vars: &[(&str, &str)]) -> Self {
        Self::with_wasm(apex_host::components::APEX, config, vars)
    }

    pub fn with_wasm(wasm: &'static [u8], config: &str, vars: &[(&str, &str)]) -> Self {
        Self::build(wasm, config, vars, KvStore::in_memory())
    }

    /// The composed app over a given key-value store (a persisted one survives the gateway).
    pub fn with_kv(config: &str, vars: &[(&str, &str)], kv: Arc<KvStore>) -> Self {
        Self::build(apex_host::components::APEX, config, vars, kv)
    }

    fn build(wasm: &'static [u8], config: &str, vars: &[(&str, &str)], kv: Arc<KvStore>) -> Self {
        let (engine, component) = compiled(wasm);
        let mut variables: Variables = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        variables.insert("apex_config".into(), config.to_string());
        let upstream = Scripted::new();
        let app = App::from_component(
            &engine,
            &component,
            AppConfig {
                kv: kv.clone(),
                variables,
                outbound: Arc::new(Arc::clone(&upstream)),
                cache_dir: None,
                max_instances: apex_host::engine::DEFAULT_MAX_INSTANCES,
            },
        )
        .expect("app");
        Self { app, upstream, kv }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        // The request is addressed to `localhost` unless a `host` header names another authority.
        let authority = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("host"))
            .map_or("localhost", |(_, value)| *value);
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(format!("http://{authority}{path}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(bytes::Bytes::copy_from_slice(body)))
            .unwrap();
        let response = self
            .app
            .handle(request)
            .await
            .expect("app handled the request");
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        Response {
            status,
            headers,
            body,
        }
    }

    pub async fn post(&self, path: &str, body: &serde_json::Value) -> Response {
        self.call(
            "POST",
            path,
            &[("content-type", "application/json")],
            body.to_string().as_bytes(),
        )
        .await
    }
}

/// Run `command`, failing the test with its output when it fails.
pub fn run(command: &mut std::process::Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Run `install` unless `stamp` already holds `inputs` (what was installed last time).
pub fn once(stamp: &std::path::Path, inputs: &str, install: impl FnOnce()) {
    if std::fs::read_to_string(stamp).ok().as_deref() != Some(inputs) {
        install();
        std::fs::write(stamp, inputs).unwrap();
    }
}

/// A virtualenv at `venv` with `requirements` installed (once per version of the file): its
/// python.
pub fn venv(venv: &std::path::Path, requirements: &std::path::Path) -> std::path::PathBuf {
    use std::process::Command;
    let python = venv.join("bin").join("python");
    let inputs = std::fs::read_to_string(requirements).unwrap();
    let what = format!("pip install -r {}", requirements.display());
    once(&venv.join("requirements.installed"), &inputs, || {
        run(
            Command::new("python3").args(["-m", "venv"]).arg(venv),
            "python3 -m venv",
        );
        run(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(requirements),
            &what,
        );
    });
    python
}

/// A process killed when the test ends, pass or fail.
pub struct Process(pub std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `apex-fake-upstream` on a loopback port (`flags`: its failure modes): the process and its
/// address.
pub fn start_upstream(flags: &[&str]) -> (Process, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_apex-fake-upstream"))
        .args(["--listen", "127.0.0.1:0"])
        .args(flags)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    (Process(child), address)
}
