//! The admin commands' HTTP client: the server from `--server`, `JOBLEDGER_SERVER` or the
//! configuration's `http.listen`; the token from `JOBLEDGER_TOKEN` (never a flag, which
//! would show in `ps`).

use anyhow::Context;
use serde_json::Value;
use std::time::Duration;

pub(crate) struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    pub(crate) fn new(base: &str, token: Option<String>) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .context("building the HTTP client")?;
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            token: token.filter(|t| !t.trim().is_empty()),
            http,
        })
    }

    /// GET `path?query` as JSON; an API error becomes an error with the server's message.
    pub(crate) async fn get(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.get(&url).query(query);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach jobledger at {}", self.base))?;
        let status = resp.status();
        let body: Value = resp
            .json()
            .await
            .with_context(|| format!("{url} answered {status} without JSON"))?;
        if !status.is_success() {
            let msg = body["error"].as_str().unwrap_or("no message");
            anyhow::bail!("{status}: {msg}");
        }
        Ok(body)
    }
}

/// `http://` + the listen address; an unspecified address (0.0.0.0, ::) means this host.
pub(crate) fn default_server(listen: std::net::SocketAddr) -> String {
    let host = match listen.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
        ip if ip.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("http://{host}:{}", listen.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_server_is_the_listen_address_on_this_host() {
        assert_eq!(
            default_server("0.0.0.0:8080".parse().unwrap()),
            "http://127.0.0.1:8080"
        );
        assert_eq!(default_server("[::1]:9".parse().unwrap()), "http://[::1]:9");
        assert_eq!(
            default_server("10.0.0.5:80".parse().unwrap()),
            "http://10.0.0.5:80"
        );
    }
}
