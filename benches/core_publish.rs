//! At what rate do core-NATS publishes into a JetStream stream start to be dropped?
//! `cargo bench --bench core_publish`.
//!
//! A core publish is fire-and-forget: nothing tells the publisher whether the stream
//! stored it. This benchmark publishes start_job lines (about 420 bytes, as Slurm hooks
//! send) with core publishes at fixed rates to a stream on a private nats-server, then
//! counts what the stream holds. It is the evidence behind the README's rule: the
//! guarantee starts at an acknowledged JetStream publish (what `jobledger emit` does).
//! BENCH_CORE_SECONDS (2) sets how long each rate is held.

mod support;

use async_nats::jetstream::{self, stream};
use std::time::{Duration, Instant};

fn line(id: u64) -> String {
    let json = format!(
        "{{\\\"jobId\\\":{id},\\\"cluster\\\":\\\"fritz\\\",\\\"user\\\":\\\"alice\\\",\
         \\\"project\\\":\\\"p1\\\",\\\"partition\\\":\\\"main\\\",\\\"startTime\\\":1700000000,\
         \\\"numNodes\\\":2,\\\"resources\\\":[{{\\\"hostname\\\":\\\"f0101\\\"}},\
         {{\\\"hostname\\\":\\\"f0102\\\"}}],\\\"metaData\\\":{{\\\"jobName\\\":\\\"sim\\\"}}}}"
    );
    format!("job,function=start_job event=\"{json}\" 1700000000000000000")
}

/// `publishers` connections publish for `secs`, together at `rate` messages per second
/// (0: each as fast as it can); returns (sent, stored).
async fn round(
    js: &jetstream::Context,
    url: &str,
    (rate, publishers): (u64, u64),
    secs: u64,
    n: usize,
) -> (u64, u64) {
    let name = format!("CORE{n}");
    let subject = format!("bench.core.{n}");
    let s = js
        .create_stream(stream::Config {
            name: name.clone(),
            subjects: vec![subject.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for p in 0..publishers {
        let client = async_nats::connect(url).await.unwrap();
        let subject = subject.clone();
        tasks.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let mut sent = 0u64;
            let end = Duration::from_secs(secs);
            while t0.elapsed() < end {
                // Bursts of 100 paced to the rate, as a busy cluster's hooks arrive.
                for _ in 0..100 {
                    let id = p * 100_000_000 + sent;
                    client
                        .publish(subject.clone(), line(id).into())
                        .await
                        .unwrap();
                    sent += 1;
                }
                if rate > 0 {
                    let due =
                        Duration::from_secs_f64(sent as f64 * publishers as f64 / rate as f64);
                    if let Some(wait) = due.checked_sub(t0.elapsed()) {
                        tokio::time::sleep(wait).await;
                    }
                }
            }
            client.flush().await.unwrap();
            sent
        }));
    }
    let mut sent = 0;
    for t in tasks {
        sent += t.await.unwrap();
    }
    let mut stored = 0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = s.get_info().await.unwrap().state.messages;
        if now == stored && now > 0 {
            break;
        }
        stored = now;
    }
    js.delete_stream(&name).await.unwrap();
    (sent, stored)
}

#[tokio::main]
async fn main() {
    let secs: u64 = std::env::var("BENCH_CORE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let dir = tempfile::tempdir().unwrap();
    let server = support::Nats::start(dir.path());
    let url = format!("127.0.0.1:{}", server.port);
    let client = loop {
        if let Ok(c) = async_nats::connect(&url).await {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let js = jetstream::new(client.clone());
    println!("core-NATS publishes into a JetStream stream, {secs} s per round");
    println!(
        "{:>10} {:>10} {:>12} {:>10} {:>10} {:>8}",
        "publishers", "target/s", "achieved/s", "sent", "stored", "lost %"
    );
    let rounds = [
        (10_000, 1),
        (40_000, 1),
        (0, 1),
        (40_000, 8),
        (100_000, 8),
        (150_000, 8),
        (200_000, 8),
        (0, 8),
        (0, 32),
    ];
    for (n, (rate, publishers)) in rounds.into_iter().enumerate() {
        let t0 = Instant::now();
        let (sent, stored) = round(&js, &url, (rate, publishers), secs, n).await;
        let achieved = sent as f64 / t0.elapsed().as_secs_f64().max(secs as f64);
        let target = if rate == 0 {
            "max".to_string()
        } else {
            rate.to_string()
        };
        let lost = 100.0 * (sent.saturating_sub(stored)) as f64 / sent as f64;
        println!(
            "{publishers:>10} {target:>10} {achieved:>12.0} {sent:>10} {stored:>10} {lost:>8.2}"
        );
    }
    drop(server);
}
