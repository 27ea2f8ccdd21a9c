//! The UI loop: one task owns the App. It takes notices, views and terminal input (in that order of
//! priority), drains whatever else is ready, then renders once. Generic over the ratatui backend and
//! the input stream, so tests drive the very same loop with a TestBackend and a channel of keys.

use super::app::{App, Effect};
use super::render;
use crate::station::trace::{TraceAnswer, TraceSource, Tracer};
use crate::station::{CoreInput, Level, Notice, View};
use futures_util::{FutureExt, Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::buffer::Buffer;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// The loop's connections to the station.
pub struct UiLinks {
    pub core: mpsc::Sender<CoreInput>,
    pub view: watch::Receiver<View>,
    pub notices: mpsc::UnboundedReceiver<Notice>,
    /// Called for `Effect::Bell` (the real terminal writes BEL; tests count).
    pub bell: Box<dyn FnMut() + Send>,
    /// Every rendered screen as text, for tests and screen capture.
    pub frames: Option<watch::Sender<String>>,
    /// Answers the Trace screen; none where tracing is not wired (the screen says so).
    pub tracer: Option<Tracer>,
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The operator quit, or the input ended.
    Quit,
    /// The operator asked for the next station (a terminal running several, like the demo).
    NextStation,
}

/// Runs until the operator quits, asks for another station, or the input ends. The app and links
/// are borrowed so a terminal running several stations can come back to this one as it was.
pub async fn run<B, S>(
    terminal: &mut Terminal<B>,
    mut input: S,
    app: &mut App,
    links: &mut UiLinks,
) -> anyhow::Result<Exit>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    S: Stream<Item = std::io::Result<crossterm::event::Event>> + Unpin,
{
    // The clock on screen and link ages move even when nothing else does.
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    app.on_view(links.view.borrow_and_update().clone());
    render_once(terminal, app, links)?;
    let mut core_stopped = false;
    // Genealogy questions run as tasks of their own: central may take seconds to answer.
    let (answers_tx, mut answers) = mpsc::unbounded_channel::<TraceAnswer>();
    loop {
        let mut effects = Vec::new();
        tokio::select! {
            biased;
            Some(notice) = links.notices.recv() => effects.extend(app.on_notice(notice)),
            Some(answer) = answers.recv() => app.on_trace(answer),
            changed = links.view.changed(), if !core_stopped => match changed {
                Ok(()) => app.on_view(links.view.borrow_and_update().clone()),
                Err(_) => {
                    core_stopped = true;
                    let notice = Notice::new(
                        Level::Error,
                        "The station core stopped: nothing more can be recorded. Restart Takt.",
                        app.view.now,
                    );
                    effects.extend(app.on_notice(notice));
                }
            },
            event = input.next() => match event {
                Some(Ok(event)) => {
                    if let crossterm::event::Event::Resize(..) = event {
                        terminal.autoresize()?;
                    }
                    effects.extend(app.on_event(event, Instant::now()));
                }
                Some(Err(error)) => return Err(anyhow::anyhow!("terminal input failed: {error}")),
                None => return Ok(Exit::Quit),
            },
            _ = tick.tick() => {}
        }
        // Drain what else is ready (a scanner's burst of keys) before drawing once. Each event is
        // timed as it is taken: keys that were already waiting arrived together, like a scan.
        while let Some(Some(Ok(event))) = input.next().now_or_never() {
            effects.extend(app.on_event(event, Instant::now()));
        }
        while let Ok(notice) = links.notices.try_recv() {
            effects.extend(app.on_notice(notice));
        }
        for effect in effects {
            match effect {
                Effect::Quit => return Ok(Exit::Quit),
                Effect::NextStation => return Ok(Exit::NextStation),
                Effect::Bell => (links.bell)(),
                Effect::Trace { lot, direction } => match links.tracer.clone() {
                    Some(tracer) => {
                        let answers = answers_tx.clone();
                        tokio::spawn(async move {
                            let _ = answers.send(tracer.trace(&lot, direction).await);
                        });
                    }
                    None => app.on_trace(TraceAnswer {
                        lot,
                        direction,
                        source: TraceSource::Local { why: None },
                        result: Err("Tracing is not available on this terminal.".into()),
                    }),
                },
                Effect::Core(input) => {
                    // Never wait on the core here: a full queue is said on screen, not a frozen UI.
                    if links.core.try_send(input).is_err() {
                        let notice = Notice::new(
                            Level::Error,
                            "The station is busy or stopped: scan again in a moment.",
                            app.view.now,
                        );
                        for effect in app.on_notice(notice) {
                            if let Effect::Bell = effect {
                                (links.bell)();
                            }
                        }
                    }
                }
            }
        }
        render_once(terminal, app, links)?;
    }
}

fn render_once<B>(terminal: &mut Terminal<B>, app: &App, links: &UiLinks) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
{
    let completed = terminal.draw(|frame| render::draw(frame, app))?;
    if let Some(frames) = &links.frames {
        frames.send_replace(buffer_text(completed.buffer));
    }
    Ok(())
}

/// The buffer as plain text, one line per row, trailing spaces kept.
pub fn buffer_text(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut text = String::with_capacity(usize::from(area.width + 1) * usize::from(area.height));
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            if let Some(cell) = buffer.cell((x, y)) {
                text.push_str(cell.symbol());
            }
        }
        text.push('\n');
    }
    text
}
