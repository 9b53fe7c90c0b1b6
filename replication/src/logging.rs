//! raft-rs logs through `slog`; Weir logs through `tracing`. This drain forwards raft-rs's
//! records to `tracing` (target `raft`), so elections and term changes show in the broker's log.

use slog::{Drain, OwnedKVList, Record, KV};

struct TracingDrain;

/// Collects a record's key-value pairs as `key=value` text.
struct Fields(String);

impl slog::Serializer for Fields {
    fn emit_arguments(&mut self, key: slog::Key, value: &std::fmt::Arguments) -> slog::Result {
        use std::fmt::Write;
        let _ = write!(self.0, " {key}={value}");
        Ok(())
    }
}

impl Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record, values: &OwnedKVList) -> Result<(), slog::Never> {
        let mut fields = Fields(String::new());
        let _ = record.kv().serialize(record, &mut fields);
        let _ = values.serialize(record, &mut fields);
        let message = record.msg();
        match record.level() {
            slog::Level::Critical | slog::Level::Error => tracing::error!(target: "raft", "{message}{}", fields.0),
            slog::Level::Warning => tracing::warn!(target: "raft", "{message}{}", fields.0),
            // Every election of every group is an info record: the broker logs leadership itself.
            slog::Level::Info => tracing::debug!(target: "raft", "{message}{}", fields.0),
            slog::Level::Debug => tracing::debug!(target: "raft", "{message}{}", fields.0),
            slog::Level::Trace => tracing::trace!(target: "raft", "{message}{}", fields.0),
        }
        Ok(())
    }
}

/// A logger for [`crate::Replica::open`] that writes raft-rs's records as `tracing` events.
pub fn tracing_logger() -> slog::Logger {
    slog::Logger::root(TracingDrain.fuse(), slog::o!())
}
