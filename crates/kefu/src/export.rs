//! `kefu export`: reads the traffic log from a running kefu over HTTP (the embedded store is
//! owned by the server process) and writes it as JSON lines.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};

pub struct Options {
    pub url: String,
    pub admin_token: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub out: Option<PathBuf>,
}

pub async fn run(options: Options) -> anyhow::Result<u64> {
    let base = options.url.trim_end_matches('/');
    let mut query = vec![];
    if let Some(from) = &options.from {
        query.push(("from", from.as_str()));
    }
    if let Some(to) = &options.to {
        query.push(("to", to.as_str()));
    }
    let mut response = reqwest::Client::new()
        .get(format!("{base}/api/v1/traffic"))
        .bearer_auth(&options.admin_token)
        .query(&query)
        .send()
        .await
        .with_context(|| format!("connecting to kefu at {base}"))?;
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        bail!("kefu at {base} answered {status}: {body}");
    }
    let mut out: Box<dyn Write> = match &options.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut bytes = 0u64;
    while let Some(chunk) = response
        .chunk()
        .await
        .context("reading the traffic stream")?
    {
        out.write_all(&chunk)?;
        bytes += chunk.len() as u64;
    }
    out.flush()?;
    Ok(bytes)
}
