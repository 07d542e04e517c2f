//! A tracing layer that turns each event into a `LogLine` on the pipe.
//! It formats the message and fields and does a `try_send`: it never
//! blocks the thread that logs.

use std::fmt::Write as _;
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

use super::pipe::Pipe;
use crate::net::proto::{Level, LogLine};
use crate::timefmt::now_ms;

pub struct PipeLayer {
    pipe: Arc<Pipe>,
}

impl PipeLayer {
    pub fn new(pipe: Arc<Pipe>) -> PipeLayer {
        PipeLayer { pipe }
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
    source: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message.push_str(value),
            "source" => self.source = Some(value.to_string()),
            name => {
                let _ = write!(self.rest, " {name}={value}");
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            "source" => self.source = Some(format!("{value:?}")),
            name => {
                let _ = write!(self.rest, " {name}={value:?}");
            }
        }
    }
}

impl<S: Subscriber> Layer<S> for PipeLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut f = Fields::default();
        event.record(&mut f);
        let mut message = f.message;
        message.push_str(&f.rest);
        self.pipe.submit(LogLine {
            time_ms: now_ms(),
            node: String::new(),
            level: Level::from(*event.metadata().level()),
            source: f.source.unwrap_or_else(|| "daemon".to_string()),
            message,
        });
    }
}
