//! The operators' web console in headless Chromium (Debian's `chromium`; `.ci/run` installs it
//! and sets KOPIR_TEST_CHROMIUM=1, so there a missing browser fails the test; elsewhere the test
//! says it was skipped): the page loads, shows every registry, turns a stopped registry red
//! within 5 s, and finds a request in the journal by its id.

// Test code: a failed step should stop the test at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use kopir_gateway::proto::v1 as pb;
use kopir_mocks::Faults;
use kopir_tests::{person_request, test_config, Env};

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// The page's DOM after `budget_ms` of (virtual) time with its scripts running.
async fn dom(browser: PathBuf, url: String, budget_ms: u64) -> String {
    tokio::task::spawn_blocking(move || {
        let profile = tempfile::tempdir().unwrap();
        let out = Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                &format!("--user-data-dir={}", profile.path().display()),
                &format!("--virtual-time-budget={budget_ms}"),
                "--dump-dom",
                &url,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .unwrap()
}

fn state(dom: &str, registry: &str) -> Option<String> {
    let at = dom.find(&format!("data-registry=\"{registry}\" data-state=\""))?;
    let rest = &dom[at..];
    let start = rest.find("data-state=\"")? + "data-state=\"".len();
    rest[start..].split('"').next().map(String::from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_registries_turns_red_and_finds_a_request() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("KOPIR_TEST_CHROMIUM").as_deref() != Ok("1"),
            "KOPIR_TEST_CHROMIUM=1 but no chromium on PATH"
        );
        eprintln!("no chromium on PATH: the console test is skipped");
        return;
    };
    let env = Env::start(test_config()).await;
    let addr = env.demo.gateway.metrics_addr.unwrap();
    let token = env.demo.console_token.clone().unwrap();
    let mut request = person_request(&env.sample_iin());
    request.meta = Some(pb::RequestMeta {
        request_id: "console-find-me".into(),
        purpose: "console test".into(),
        ..Default::default()
    });
    env.identity().get_person(request).await.unwrap();

    let page =
        |token: &str| format!("http://{addr}/console/#token={token}&request_id=console-find-me");
    let html = dom(browser.clone(), page(&token), 3000).await;
    for registry in [
        "persons",
        "legal_entities",
        "notary",
        "cadastre",
        "payments",
    ] {
        assert_eq!(
            state(&html, registry).as_deref(),
            Some("up"),
            "{registry}: {html}"
        );
    }
    assert!(
        html.contains("0 contracts not yet decided") && html.contains("0 dead letters"),
        "the outbox panel shows the backlog: {html}"
    );
    assert!(
        html.matches("<td>console-find-me</td>").count() >= 2,
        "the journal search shows the request and its response: {html}"
    );

    // A wrong token gets nothing.
    let html = dom(browser.clone(), page("wrong"), 2000).await;
    assert!(html.contains("cannot reach the gateway: 401"), "{html}");
    assert!(state(&html, "persons").is_none());

    // The persons registry stops (fault injection): red within 5 s.
    env.demo
        .mocks
        .persons
        .set_faults(Faults {
            down: true,
            ..Faults::default()
        })
        .await
        .unwrap();
    let stopped = Instant::now();
    loop {
        let html = dom(browser.clone(), page(&token), 1500).await;
        if state(&html, "persons").as_deref() == Some("down") {
            assert_eq!(state(&html, "legal_entities").as_deref(), Some("up"));
            break;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(5),
            "persons is not red 5 s after it stopped: {html}"
        );
    }
    assert!(stopped.elapsed() < Duration::from_secs(5));

    // KOPIR_CONSOLE_SCREENSHOT=FILE saves a picture of the page in this state (docs/console.png).
    if let Ok(file) = std::env::var("KOPIR_CONSOLE_SCREENSHOT") {
        let people = env.demo.mocks.population.person_order.clone();
        for iin in people.iter().take(40) {
            env.identity().get_person(person_request(iin)).await.ok();
        }
        let url = page(&token);
        tokio::task::spawn_blocking(move || {
            let profile = tempfile::tempdir().unwrap();
            Command::new(browser)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--hide-scrollbars",
                    "--window-size=1240,1000",
                    &format!("--user-data-dir={}", profile.path().display()),
                    "--virtual-time-budget=3000",
                    &format!("--screenshot={file}"),
                    &url,
                ])
                .output()
                .unwrap();
        })
        .await
        .unwrap();
    }
}
