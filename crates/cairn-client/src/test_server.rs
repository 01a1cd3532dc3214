//! A scripted HTTP/1 server for the client's unit tests: it records what the
//! client sent, so that a test can check routes, headers and bodies.

/// Answers each request on one connection with `status` and `body`, and
/// sends what it received (head and body) back over the channel.
pub async fn recording_server(
    answers: Vec<(u16, &'static str, &'static str)>,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        for (status, content_type, body) in answers {
            // Read a head, then as many body bytes as it announces.
            let head_end = loop {
                if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                    break end + 4;
                }
                let read = stream.read(&mut buffer).await.unwrap();
                assert!(read > 0, "client closed early");
                received.extend_from_slice(&buffer[..read]);
            };
            let head = String::from_utf8_lossy(&received[..head_end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map_or(0, |value| value.trim().parse().unwrap());
            while received.len() < head_end + length {
                let read = stream.read(&mut buffer).await.unwrap();
                received.extend_from_slice(&buffer[..read]);
            }
            let request: Vec<u8> = received.drain(..head_end + length).collect();
            sender.send(String::from_utf8(request).unwrap()).unwrap();
            let answer = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\n\
                 content-length: {}\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).await.unwrap();
        }
    });
    (url, receiver)
}
