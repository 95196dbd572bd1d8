//! The README's 30-second tour and the demo page use one set of example
//! credentials: after the tour, the page's pre-filled "Log in" works.

use crate::support::*;
use serde_json::Value;

const README: &str = include_str!("../../../../README.md");

/// The JSON bodies the README's tour sends with `-d '...'`, in order.
fn tour_bodies() -> Vec<Value> {
    README
        .split("-d '")
        .skip(1)
        .map(|rest| serde_json::from_str(rest.split('\'').next().expect("closed")).expect("json"))
        .collect()
}

/// The `value` attribute of the page's input with id `id`.
fn prefilled<'a>(page: &'a str, id: &str) -> &'a str {
    let tag = page.split(&format!("<input id=\"{id}\"")).nth(1).expect(id);
    let tag = tag.split('>').next().expect("tag");
    tag.split("value=\"").nth(1).and_then(|v| v.split('"').next()).expect("value")
}

#[tokio::test]
async fn readme_tour_credentials_log_in_on_the_demo_page() {
    let server = TestServer::start().await;
    let bodies = tour_bodies();
    assert_eq!(bodies.len(), 2, "register and login: {bodies:?}");
    assert_eq!(bodies[0], bodies[1], "the tour logs in with what it registered");
    let r = server.post("/auth/register", bodies[0].clone()).await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);

    let page = server.http.get(server.url("/")).send().await.expect("get /");
    let page = page.text().await.expect("page");
    let username = prefilled(&page, "username");
    let password = prefilled(&page, "password");
    assert_eq!(
        (username, password),
        (str_of(&bodies[0], "username").as_str(), str_of(&bodies[0], "password").as_str())
    );
    let login = serde_json::json!({"username": username, "password": password});
    let r = server.post("/auth/login", login).await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
}
