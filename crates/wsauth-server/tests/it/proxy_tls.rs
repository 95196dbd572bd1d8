//! A `wss://` upstream: its certificate made in the test, trusted through
//! the route's `ca_file`, and refused (502) without it.

use crate::proxy::next_message;
use crate::support::*;
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use wsauth_server::proxy::ProxyRoute;

/// An echo server over TLS on 127.0.0.1; returns its port and its certificate (PEM).
async fn tls_echo() -> (u16, String, tokio::task::JoinHandle<()>) {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("cert");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(vec![made.cert.der().clone()], key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await else { return };
                while let Some(Ok(message)) = ws.next().await {
                    if message.is_text() || message.is_binary() {
                        let Ok(()) = ws.send(message).await else { return };
                    }
                }
            });
        }
    });
    (port, made.cert.pem(), task)
}

#[tokio::test]
async fn a_wss_upstream_is_trusted_through_its_ca_file_and_refused_without_it() {
    let (port, pem, task) = tls_echo().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_file = dir.path().join("upstream-ca.pem");
    std::fs::write(&ca_file, pem).expect("write the CA");
    let url = format!("wss://127.0.0.1:{port}/echo");
    let server = TestServer::start_config(|c| {
        c.proxy = vec![
            ProxyRoute { ca_file: Some(ca_file), ..ProxyRoute::new("/secure", url.clone()) },
            ProxyRoute::new("/public-roots", url),
        ];
    })
    .await;
    let (access, _) = server.login("alice").await;
    let (mut ws, _) = server.ws(&format!("/secure?token={access}"), &[]).await.expect("101");
    ws.send(Message::text("over tls")).await.expect("send");
    assert_eq!(next_message(&mut ws).await, Message::text("over tls"));
    let untrusted = rejected(server.ws(&format!("/public-roots?token={access}"), &[]).await).await;
    untrusted.assert(502, "upstream_unreachable");
    task.abort();
}
