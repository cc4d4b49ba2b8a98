//! prompt: `netql [sample.pcap]>` and its continuation and search forms.

use std::borrow::Cow;

use reedline::{Prompt, PromptEditMode, PromptHistorySearch, PromptHistorySearchStatus};

/// `netql [sample.pcap]> `, and `...> ` on continuation lines.
pub struct ShellPrompt {
    label: String,
}

impl ShellPrompt {
    pub fn new(captures: &[String]) -> ShellPrompt {
        let label = match captures {
            [] => "netql".to_string(),
            [one] => format!("netql [{one}]"),
            many => format!("netql [{} captures]", many.len()),
        };
        ShellPrompt { label }
    }
}

impl Prompt for ShellPrompt {
    fn render_prompt_left(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.label)
    }
    fn render_prompt_right(&self) -> Cow<'_, str> {
        Cow::Borrowed("")
    }
    fn render_prompt_indicator(&self, _mode: PromptEditMode) -> Cow<'_, str> {
        Cow::Borrowed("> ")
    }
    fn render_prompt_multiline_indicator(&self) -> Cow<'_, str> {
        Cow::Borrowed("...> ")
    }
    fn render_prompt_history_search_indicator(&self, search: PromptHistorySearch) -> Cow<'_, str> {
        let failing = match search.status {
            PromptHistorySearchStatus::Passing => "",
            PromptHistorySearchStatus::Failing => "failing ",
        };
        Cow::Owned(format!(" ({failing}reverse-search: {}) ", search.term))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts() {
        let p = ShellPrompt::new(&["sample.pcap".into()]);
        assert_eq!(
            format!(
                "{}{}",
                p.render_prompt_left(),
                p.render_prompt_indicator(PromptEditMode::Emacs)
            ),
            "netql [sample.pcap]> "
        );
        assert_eq!(p.render_prompt_multiline_indicator(), "...> ");
        assert_eq!(
            ShellPrompt::new(&["a".into(), "b".into()]).render_prompt_left(),
            "netql [2 captures]"
        );
    }
}
