//! Printing results: one [`Table`] shape for both outputs — a human table (comfy-table), or
//! JSON (an array of objects keyed by the column names, or an object of such arrays when a
//! command prints several sections).

use clap::ValueEnum;
use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{ContentArrangement, Table as Comfy};
use serde_json::{Map, Value};

#[derive(Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable tables.
    #[default]
    Table,
    /// JSON on one document, for scripts (`jq`).
    Json,
}

/// Rows under named columns; JSON keys are the column names.
pub struct Table {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    pub fn new(columns: &[&'static str]) -> Table {
        Table { columns: columns.to_vec(), rows: Vec::new() }
    }

    pub fn push(&mut self, row: Vec<Value>) {
        self.rows.push(row);
    }

    /// The rows as JSON objects.
    pub fn to_json(&self) -> Value {
        Value::Array(
            self.rows
                .iter()
                .map(|row| Value::Object(self.columns.iter().map(|c| c.to_string()).zip(row.iter().cloned()).collect::<Map<_, _>>()))
                .collect(),
        )
    }

    fn render(&self) -> String {
        let mut table = Comfy::new();
        table.load_preset(UTF8_BORDERS_ONLY).set_content_arrangement(ContentArrangement::Disabled);
        table.set_header(self.columns.iter().map(|c| c.to_uppercase().replace('_', " ")));
        for row in &self.rows {
            table.add_row(row.iter().map(cell));
        }
        table.to_string()
    }
}

/// A value as a table cell: strings bare, null as `-`, lists comma-separated.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Prints one table.
pub fn print(format: Format, table: &Table) {
    match format {
        Format::Table => println!("{}", table.render()),
        Format::Json => println!("{}", table.to_json()),
    }
}

/// Prints several titled tables (`extra`: more top-level JSON fields, shown as `key: value`
/// lines above the tables).
pub fn print_sections(format: Format, extra: &[(&str, Value)], sections: &[(&str, &Table)]) {
    match format {
        Format::Table => {
            for (key, value) in extra {
                println!("{key}: {}", cell(value));
            }
            for (title, table) in sections {
                println!("\n{}", title.to_uppercase());
                println!("{}", table.render());
            }
        }
        Format::Json => {
            let mut object = Map::new();
            for (key, value) in extra {
                object.insert(key.to_string(), value.clone());
            }
            for (title, table) in sections {
                object.insert(title.to_string(), table.to_json());
            }
            println!("{}", Value::Object(object));
        }
    }
}

/// Prints a message for humans, or `{"key": value, …}` for scripts.
pub fn print_result(format: Format, message: &str, fields: &[(&str, Value)]) {
    match format {
        Format::Table => println!("{message}"),
        Format::Json => println!("{}", Value::Object(fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())),
    }
}
