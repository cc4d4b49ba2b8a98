//! explain: errors as the shell shows them. The engine already puts the caret under an unknown
//! column's name and guesses the closest one; in the shell, `.schema` is where columns are listed.

use crate::query::engine::ScriptError;
use crate::query::script_error::COLUMNS_HINT;

pub(crate) fn explain(e: ScriptError) -> ScriptError {
    ScriptError {
        message: e.message.replace(COLUMNS_HINT, ".schema lists the columns"),
        ..e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_points_to_its_own_schema_command() {
        let e = ScriptError {
            message: format!("no column named \"x\" ({COLUMNS_HINT})"),
            line: Some(1),
            column: Some(5),
            snippet: None,
        };
        assert_eq!(explain(e).message, "no column named \"x\" (.schema lists the columns)");
    }
}
