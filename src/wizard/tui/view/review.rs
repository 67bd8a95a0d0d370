//! Review (the plan, scrollable, secrets already masked), Apply and Done.

use ratatui::prelude::*;
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::theme::Theme;
use crate::wizard::tui::model::{CONFIRM_SECONDS, Model, Waiting};

pub fn draw_review(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let block = Block::bordered().title(" Review: nothing is written until you confirm ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let (body, question) = if model.confirming {
        let [body, question] = Layout::vertical([Constraint::Min(0), Constraint::Length(3)]).areas(inner);
        (body, Some(question))
    } else {
        (inner, None)
    };
    let paragraph = match &model.review {
        None => Paragraph::new("Building the plan..."),
        Some(Err(message)) => Paragraph::new(vec![
            Line::styled("The plan could not be made:", theme.error),
            Line::raw(message.clone()),
            Line::default(),
            Line::raw("Esc goes back to the steps."),
        ])
        .wrap(Wrap { trim: false }),
        Some(Ok(text)) => {
            let lines: Vec<Line> = text.lines.iter().map(|l| diff_line(l, theme)).collect();
            Paragraph::new(lines).scroll((u16::try_from(model.review_scroll).unwrap_or(u16::MAX), 0))
        }
    };
    frame.render_widget(paragraph, body);
    if let Some(area) = question {
        let mark = if model.keep_if_confirmed { "[x]" } else { "[ ]" };
        frame.render_widget(
            Paragraph::new(vec![
                Line::styled("> Apply these changes now? Enter applies, Esc does not.", theme.selected),
                Line::raw(format!(
                    "  {mark} keep them only if confirmed within {CONFIRM_SECONDS} s (c to change)"
                )),
                Line::raw("      A change that cuts your link is then undone by itself."),
            ])
            .wrap(Wrap { trim: false }),
            area,
        );
    }
}

/// Added and removed lines stand out by colour, and by their +/- in monochrome.
fn diff_line<'a>(line: &str, theme: &Theme) -> Line<'a> {
    let style = if line.starts_with("==") || line.starts_with("Commands") {
        theme.title
    } else if line.starts_with('+') && !line.starts_with("+++") {
        theme.good
    } else if line.starts_with('-') && !line.starts_with("---") {
        theme.error
    } else {
        Style::new()
    };
    Line::styled(line.to_string(), style)
}

pub fn draw_apply(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let mut lines = vec![
        Line::styled("Applying...", theme.title),
        Line::raw("Backing up, writing the files, then the commands. A failure puts every file back."),
        Line::default(),
    ];
    lines.extend(model.progress.iter().map(|l| Line::raw(l.clone())));
    if let Some(waiting) = &model.waiting {
        lines.push(Line::default());
        lines.extend(waiting_lines(waiting, theme));
    }
    // The newest line stays in view.
    let inner_height = usize::from(area.height.saturating_sub(2));
    let scroll = u16::try_from(lines.len().saturating_sub(inner_height)).unwrap_or(0);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .scroll((scroll, 0))
            .block(Block::bordered().title(" Apply ")),
        area,
    );
}

/// The countdown and the device's health while the changes wait for their confirmation.
fn waiting_lines<'a>(waiting: &Waiting, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines = vec![
        Line::styled(
            format!(
                "Keep these changes? Enter keeps them ({} s left); otherwise they are reverted.",
                waiting.seconds_left
            ),
            theme.selected,
        ),
        Line::raw("From another shell: sudo edgeprep confirm"),
    ];
    match &waiting.health {
        None => lines.push(Line::raw("Health: checking...")),
        Some(health) => {
            let good = |ok: bool| if ok { theme.good } else { theme.error };
            for (unit, state) in &health.services {
                lines.push(Line::styled(format!("  {unit:<16} {state}"), good(state == "active")));
            }
            let agent = &health.edge_agent;
            lines.push(Line::styled(format!("  {:<16} {agent}", "edgeAgent"), good(agent == "running")));
        }
    }
    lines
}

pub fn draw_done(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let mut lines = Vec::new();
    if let Some(outcome) = &model.outcome {
        let (text, style) = if outcome.ok { ("Done.", theme.good) } else { ("Not applied.", theme.error) };
        lines.push(Line::styled(text, style.add_modifier(Modifier::BOLD)));
        lines.extend(outcome.lines.iter().map(|l| Line::raw(l.clone())));
    }
    if let Some(csr) = &model.csr {
        lines.push(Line::default());
        let style = if csr.is_ok() { theme.good } else { theme.error };
        let mut shown = crate::wizard::effects::csr_lines(csr).into_iter();
        if let Some(first) = shown.next() {
            lines.push(Line::styled(first, style));
        }
        lines.extend(shown.map(Line::raw));
    }
    lines.push(Line::default());
    match &model.saved {
        Some(Ok(path)) => {
            lines.push(Line::styled(format!("Answers saved to {path} (mode 0600)."), theme.good))
        }
        Some(Err(why)) => lines.push(Line::styled(format!("Answers not saved: {why}"), theme.error)),
        None if model.answers.is_some() => {
            lines.push(Line::raw("Press s to save these answers for the next device"));
            lines.push(Line::raw("(S: passwords and keys included)."));
        }
        None => {}
    }
    lines.push(Line::raw("Press Enter to leave."));
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::bordered().title(" Done ")),
        area,
    );
}
