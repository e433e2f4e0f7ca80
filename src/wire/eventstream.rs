//! Encodes ConverseStream events as `application/vnd.amazon.eventstream` frames, with
//! the same headers Bedrock sends, using the AWS SDK's own frame writer (CRCs included).

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::Bytes;

use super::WireEvent;

/// One frame. The payload is the event's JSON, compact.
pub(crate) fn encode(event: &WireEvent) -> Result<Vec<u8>, aws_smithy_eventstream::error::Error> {
    let type_header = if event.message_type == "exception" { ":exception-type" } else { ":event-type" };
    let message = Message::new(Bytes::from(event.payload.to_string()))
        .add_header(Header::new(type_header, HeaderValue::String(event.event_type.clone().into())))
        .add_header(Header::new(":content-type", HeaderValue::String("application/json".into())))
        .add_header(Header::new(":message-type", HeaderValue::String(event.message_type.clone().into())));
    let mut buffer = Vec::new();
    write_message_to(&message, &mut buffer)?;
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::read_message_from;
    use serde_json::json;

    #[test]
    fn frames_round_trip_through_the_sdk_decoder() {
        let event = WireEvent {
            event_type: "contentBlockDelta".into(),
            message_type: "event".into(),
            payload: json!({"contentBlockIndex": 0, "delta": {"text": "Hi"}}),
        };
        let bytes = encode(&event).unwrap();
        let mut buf = Bytes::from(bytes);
        let decoded = read_message_from(&mut buf).unwrap();
        assert_eq!(decoded.payload().as_ref(), br#"{"contentBlockIndex":0,"delta":{"text":"Hi"}}"#);
        let header = decoded.headers().iter().find(|h| h.name().as_str() == ":event-type").unwrap();
        assert_eq!(header.value().as_string().unwrap().as_str(), "contentBlockDelta");
    }
}
