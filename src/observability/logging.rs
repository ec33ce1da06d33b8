//! Logging setup: `tracing` with ESO-shaped JSON lines in a cluster and a readable format on a
//! terminal.
//!
//! `--log-format json|text` picks the format; without it, JSON when stderr is not a terminal.
//! The level comes from `--log-level` (any `EnvFilter` directive, e.g. `debug` or
//! `info,akvsync=debug`), else `RUST_LOG`, else `info`. A JSON line looks like zap's in ESO:
//! `{"level":"info","ts":1700000000.123,"logger":"akvsync::controller","msg":"reconciled",
//! "namespace":"team-a",…}`, with the fields of the event and of its enclosing spans flattened.
//! Secret values must never be fields: log key names only.

use std::io::IsTerminal;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// The level when neither `--log-level` nor `RUST_LOG` says one.
pub const DEFAULT_LOG_LEVEL: &str = "info";
/// The environment variable `tracing` users expect.
const RUST_LOG: &str = "RUST_LOG";

/// Output format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (ESO/zap field names).
    Json,
    /// Human-readable lines.
    Text,
}

/// Logging flags, to `#[command(flatten)]` into the CLI.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LogArgs {
    /// `json` or `text`; default: json unless stderr is a terminal.
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Level or filter directives (e.g. `debug`, `info,akvsync=debug`); overrides `RUST_LOG`.
    #[arg(long)]
    pub log_level: Option<String>,
}

/// Errors of the logging setup.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("invalid log level {directives:?}")]
    InvalidLevel {
        directives: String,
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    #[error("a global logger is already installed")]
    AlreadyInstalled(#[source] tracing::subscriber::SetGlobalDefaultError),
}

impl LogArgs {
    /// The format to use given whether stderr is a terminal.
    pub fn format(&self, stderr_is_terminal: bool) -> LogFormat {
        self.log_format.unwrap_or(if stderr_is_terminal {
            LogFormat::Text
        } else {
            LogFormat::Json
        })
    }

    /// The filter directives: the flag, else `rust_log`, else [`DEFAULT_LOG_LEVEL`].
    pub fn directives(&self, rust_log: Option<String>) -> String {
        self.log_level
            .clone()
            .or(rust_log.filter(|value| !value.trim().is_empty()))
            .unwrap_or_else(|| DEFAULT_LOG_LEVEL.to_owned())
    }
}

/// Installs the process-wide subscriber writing to stderr.
pub fn init(args: &LogArgs) -> Result<(), LoggingError> {
    let terminal = std::io::stderr().is_terminal();
    let format = args.format(terminal);
    let directives = args.directives(std::env::var(RUST_LOG).ok());
    let subscriber = subscriber(format, &directives, terminal, std::io::stderr)?;
    tracing::subscriber::set_global_default(subscriber).map_err(LoggingError::AlreadyInstalled)
}

/// A subscriber in `format`, filtered by `directives`, writing to `writer` (tests pass a buffer);
/// `colors` adds ANSI colors to the text format (only on a terminal).
pub fn subscriber<W>(
    format: LogFormat,
    directives: &str,
    colors: bool,
    writer: W,
) -> Result<Box<dyn Subscriber + Send + Sync>, LoggingError>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(directives).map_err(|source| LoggingError::InvalidLevel {
        directives: directives.to_owned(),
        source,
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    Ok(match format {
        LogFormat::Json => Box::new(
            builder
                .fmt_fields(JsonFields::new())
                .event_format(EsoJson)
                .finish(),
        ),
        LogFormat::Text => Box::new(builder.with_target(true).with_ansi(colors).finish()),
    })
}

/// zap-like JSON lines: `level`, `ts` (epoch seconds), `logger` (the target), `msg`, then the
/// span and event fields.
struct EsoJson;

impl<S, N> FormatEvent<S, N> for EsoJson
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    N: for<'writer> FormatFields<'writer> + 'static,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let metadata = event.metadata();
        let mut line = Map::new();
        line.insert(
            "level".into(),
            Value::from(metadata.level().as_str().to_ascii_lowercase()),
        );
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64());
        line.insert("ts".into(), Value::from(ts));
        line.insert("logger".into(), Value::from(metadata.target()));
        let mut fields = Map::new();
        if let Some(scope) = context.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                // With `JsonFields`, a span's recorded fields are stored as a JSON object.
                if let Some(recorded) = extensions.get::<FormattedFields<N>>()
                    && let Ok(Value::Object(span_fields)) =
                        serde_json::from_str::<Value>(recorded.as_str())
                {
                    fields.extend(span_fields);
                }
            }
        }
        event.record(&mut JsonVisitor(&mut fields));
        let message = fields.remove("message").unwrap_or(Value::from(""));
        line.insert("msg".into(), message);
        for (key, value) in fields {
            line.entry(key).or_insert(value);
        }
        let text = serde_json::to_string(&line).map_err(|_| std::fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

/// Records event fields as JSON values.
struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().into(), Value::from(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::from(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A `MakeWriter` over a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'writer> MakeWriter<'writer> for Buffer {
        type Writer = Buffer;

        fn make_writer(&'writer self) -> Self::Writer {
            self.clone()
        }
    }

    impl Buffer {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().expect("buffer lock").clone()).expect("utf-8 logs")
        }
    }

    fn capture(format: LogFormat, directives: &str, log: impl FnOnce()) -> String {
        let buffer = Buffer::default();
        let subscriber = subscriber(format, directives, false, buffer.clone()).expect("subscriber");
        tracing::subscriber::with_default(subscriber, log);
        buffer.text()
    }

    #[test]
    fn json_lines_have_eso_fields_and_span_fields_flattened() {
        let output = capture(LogFormat::Json, "info", || {
            let span = tracing::info_span!("reconcile", namespace = "team-a", name = "db");
            let _entered = span.enter();
            tracing::info!(keys = 3_u64, ready = true, "synced secret");
        });
        let line: Value = serde_json::from_str(output.trim()).expect("one JSON line");
        assert_eq!(line["level"], "info");
        assert_eq!(line["msg"], "synced secret");
        assert_eq!(line["logger"], module_path!());
        assert_eq!(line["namespace"], "team-a");
        assert_eq!(line["name"], "db");
        assert_eq!(line["keys"], 3);
        assert_eq!(line["ready"], true);
        assert!(line["ts"].as_f64().is_some_and(|ts| ts > 1.6e9), "{line}");
    }

    #[test]
    fn the_level_filters_lines() {
        let output = capture(LogFormat::Json, "warn", || {
            tracing::info!("hidden");
            tracing::warn!("shown");
        });
        assert_eq!(output.lines().count(), 1, "{output}");
        assert!(output.contains("\"msg\":\"shown\""));
    }

    #[test]
    fn text_format_is_not_json() {
        let output = capture(LogFormat::Text, "info", || {
            tracing::info!(key = "k", "hello")
        });
        assert!(
            output.contains("hello") && output.contains("key=\"k\""),
            "{output}"
        );
        assert!(serde_json::from_str::<Value>(output.trim()).is_err());
    }

    #[test]
    fn the_flag_wins_over_rust_log_and_info_is_the_default() {
        let flagged = LogArgs {
            log_format: None,
            log_level: Some("debug".into()),
        };
        assert_eq!(flagged.directives(Some("warn".into())), "debug");
        let unflagged = LogArgs::default();
        assert_eq!(unflagged.directives(Some("warn".into())), "warn");
        assert_eq!(unflagged.directives(Some(" ".into())), "info");
        assert_eq!(unflagged.directives(None), "info");
    }

    #[test]
    fn json_is_the_default_off_a_terminal() {
        let args = LogArgs::default();
        assert_eq!(args.format(false), LogFormat::Json);
        assert_eq!(args.format(true), LogFormat::Text);
        let forced = LogArgs {
            log_format: Some(LogFormat::Json),
            log_level: None,
        };
        assert_eq!(forced.format(true), LogFormat::Json);
    }

    #[test]
    fn an_invalid_level_is_an_error() {
        assert!(subscriber(LogFormat::Json, "info,=[", false, std::io::sink).is_err());
    }
}
