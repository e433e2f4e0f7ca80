//! The signals that stop a run: SIGINT (Ctrl-C) and SIGTERM.

/// One item per SIGINT (Ctrl-C) or SIGTERM (`timeout`, `docker stop`, a cancelled
/// GitHub job). Must be called inside the runtime.
#[cfg(unix)]
pub(super) fn interrupts() -> impl futures_util::Stream<Item = ()> + Unpin {
    use futures_util::StreamExt;
    use tokio::signal::unix::{SignalKind, signal};
    let each = |kind: SignalKind| match signal(kind) {
        // Without a handler (unusual sandboxes) that signal keeps its default action.
        Err(_) => futures_util::stream::pending().boxed(),
        Ok(s) => futures_util::stream::unfold(s, |mut s| async move { s.recv().await.map(|()| ((), s)) }).boxed(),
    };
    futures_util::stream::select(each(SignalKind::interrupt()), each(SignalKind::terminate()))
}

/// Ctrl-C, on platforms without Unix signals.
#[cfg(not(unix))]
pub(super) fn interrupts() -> impl futures_util::Stream<Item = ()> + Unpin {
    use futures_util::StreamExt;
    futures_util::stream::unfold((), |()| async { tokio::signal::ctrl_c().await.ok().map(|()| ((), ())) }).boxed()
}
