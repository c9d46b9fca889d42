//! A small HTTP client for the checks, and its replies.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, ensure};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub struct Http {
    pub client: Client<HttpConnector, Full<Bytes>>,
    pub base: String,
    pub key: String,
}

pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Result<Value> {
        serde_json::from_str(&self.body).with_context(|| {
            format!(
                "status {}, body not JSON: {}",
                self.status,
                short(&self.body)
            )
        })
    }

    pub fn ok(self) -> Result<Self> {
        ensure!(
            self.status == 200,
            "status {}: {}",
            self.status,
            short(&self.body)
        );
        Ok(self)
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

pub fn short(text: &str) -> String {
    let mut end = text.len().min(300);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = if end < text.len() { " …" } else { "" };
    format!("{}{cut}", text[..end].replace('\n', "\\n"))
}

impl Http {
    pub fn new(base: &str, key: &str) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: base.trim_end_matches('/').to_string(),
            key: key.to_string(),
        }
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        auth: bool,
    ) -> Result<Reply> {
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if auth && !self.key.is_empty() {
            request = request.header("authorization", format!("Bearer {}", self.key));
        }
        let body = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Bytes::from(body.to_string())
            }
            None => Bytes::new(),
        };
        let request = request.body(Full::new(body))?;
        let exchange = async {
            let response = self.client.request(request).await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, anyhow::Error>(Reply {
                status,
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            })
        };
        tokio::time::timeout(Duration::from_secs(60), exchange)
            .await
            .map_err(|_| anyhow!("{method} {path}: no answer within 60 s"))?
            .with_context(|| format!("{method} {path}"))
    }

    pub async fn get(&self, path: &str) -> Result<Reply> {
        self.send("GET", path, None, true).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Reply> {
        self.send("POST", path, Some(body), true).await
    }
}
