//! Never lose the reader's work. The page saves every change (its state as a k1 link, in local
//! storage and in the address; a large text's once the reader pauses, and at once as the page
//! is left); what can still displace the reader's text is a shared link
//! opened over it, or another kpx tab saving its own. Whatever is displaced is kept in one slot
//! and the page says so, with a way back.

use gloo::storage::{LocalStorage, SessionStorage, Storage};
use kpx_core::share;

/// The reader's work: the state of the last change, as a k1 link fragment.
pub const SAVED_KEY: &str = "kpx.state";
/// The text a link or another tab displaced, as a k1 link fragment.
pub const PREVIOUS_KEY: &str = "kpx.previous";
/// This tab's work as it was left, with the address it was left at (session storage: each tab
/// has its own, and a reload keeps it).
const LEFT_KEY: &str = "kpx.left";

/// What the page tells the reader about their work.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    /// A link replaced the editor's text; the reader's own is kept.
    LinkOpened,
    /// Another tab saved different work (`fragment`); this tab keeps its own.
    OtherTab { fragment: String },
}

/// The editor text a saved fragment holds.
pub fn text_of(fragment: &str) -> Option<String> {
    share::decode(fragment).ok().map(|s| s.text)
}

/// Whether losing `text` would lose anything: a shipped scenario, unchanged, can be loaded
/// again from the picker.
fn worth_keeping(text: &str) -> bool {
    !text.trim().is_empty() && crate::scenarios::unchanged(text).is_none()
}

/// Keeps the saved work before a link (`link`, a fragment with or without its `#`) with
/// `incoming` text replaces it; true when there was something to keep.
pub fn keep_saved_before(link: &str, incoming: &str) -> bool {
    let Ok(saved) = LocalStorage::get::<String>(SAVED_KEY) else {
        return false;
    };
    // A reload opens the address the page last wrote, which is the saved work itself: the same
    // fragment holds the same text, so it need not be inflated and read a second time (8.7 MB
    // at 10,000 Services, before the first drawing).
    if saved == link.strip_prefix('#').unwrap_or(link) {
        return false;
    }
    match text_of(&saved) {
        Some(text) if text != incoming && worth_keeping(&text) => {
            keep(&saved);
            true
        }
        _ => false,
    }
}

/// A fingerprint of an address (the tab remembers which addresses it showed, not their text:
/// a large one is megabytes).
fn fingerprint(address: &str) -> u64 {
    kpx_core::cluster::fnv1a(address.as_bytes())
}

thread_local! {
    /// The addresses this page wrote its own over (each change's link), by fingerprint, the
    /// latest last, at most [`REMEMBERED`]. (A link pasted over one, `hashchange`, is no
    /// address a reload of this page's own work goes to.)
    static REPLACED: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How many replaced addresses the page remembers: a reload goes to the address of when it
/// was asked for, and the reader may keep typing (each change replacing the address) while a
/// slow host answers it.
const REMEMBERED: usize = 64;

/// The page is about to write a new address over `address`.
pub fn address_replaced(address: &str) {
    REPLACED.with_borrow_mut(|replaced| {
        if replaced.len() == REMEMBERED {
            replaced.remove(0);
        }
        replaced.push(fingerprint(address));
    });
}

/// The page is left at `address` (its fragment, with the `#`) with `latest`, this tab's latest
/// fragment: when that is newer than the address (a change whose link was still being made,
/// or an edit still analysed), the tab notes it, for a reload to open it. A reload goes to the
/// address the page had when it was asked for: the one now or, when changes were kept since
/// (their links written meanwhile, or as the page left), one the page showed before.
pub fn left_at(address: &str, latest: &str) {
    // (One text: the fingerprints in hex, the address's first, then `|` and the fragment; no
    // JSON for it.)
    let storage = SessionStorage::raw();
    let noted = match address.strip_prefix('#') {
        // (No fragment in the address: a reload opens the work kept in local storage.)
        Some(shown) if !shown.is_empty() && !latest.is_empty() => {
            let replaced = REPLACED.with_borrow(Clone::clone);
            let newer = shown != latest || !replaced.is_empty();
            let mut note = String::with_capacity(17 * (replaced.len() + 1) + latest.len());
            for print in std::iter::once(fingerprint(address)).chain(replaced) {
                note.push_str(&format!("{print:016x}"));
            }
            note.push('|');
            note.push_str(latest);
            // (A fragment too large for this tab's storage is not noted: the reload then
            // offers it back, as a link opened over the work would.)
            newer && storage.set_item(LEFT_KEY, &note).is_ok()
        }
        _ => false,
    };
    if !noted {
        let _ = storage.remove_item(LEFT_KEY);
    }
}

/// Forgets the note [`left_at`] left, unread (this page is no reload of the one that left it).
pub fn forget_left() {
    let _ = SessionStorage::raw().remove_item(LEFT_KEY);
}

/// The fragment a reload of `address` opens: this tab's newer work if the page was left while
/// it showed that address or had shown it, else the address's own.
pub fn to_open_at(address: String) -> String {
    let storage = SessionStorage::raw();
    let left = storage.get_item(LEFT_KEY).ok().flatten();
    // (Read once: the next reload is noted as the page leaves again.)
    let _ = storage.remove_item(LEFT_KEY);
    let shown = format!("{:016x}", fingerprint(&address));
    // (Read with `get`: a text of the page's origin, but not necessarily of kpx's writing.)
    let Some((prints, fragment)) = left.as_deref().and_then(|l| l.split_once('|')) else {
        return address;
    };
    let showed = (0..prints.len() / 16).any(|i| prints.get(i * 16..i * 16 + 16) == Some(&shown));
    match fragment {
        f if !f.is_empty() && showed => format!("#{f}"),
        _ => address,
    }
}

/// Keeps `fragment` as the displaced work.
pub fn keep(fragment: &str) {
    let _ = LocalStorage::set(PREVIOUS_KEY, fragment);
}

/// The displaced work, if any.
pub fn previous() -> Option<share::Shared> {
    LocalStorage::get::<String>(PREVIOUS_KEY)
        .ok()
        .and_then(|f| share::decode(&f).ok())
}

/// Another tab saved `fragment`: a notice when its text differs from this tab's (`ours`, a
/// fragment), keeping this tab's work in the slot so neither is lost.
pub fn other_tab_saved(fragment: String, ours: &str) -> Option<Notice> {
    let theirs = text_of(&fragment)?;
    let mine = text_of(ours)?;
    if theirs == mine || !worth_keeping(&mine) {
        return None;
    }
    keep(ours);
    Some(Notice::OtherTab { fragment })
}

use crate::i18n::{t, Lang};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct NoticeProps {
    pub notice: Notice,
    pub lang: Lang,
    /// Puts a state in the editor.
    pub onload: Callback<share::Shared>,
    /// This tab's latest state, as a fragment (kept first if it was not yet).
    pub ours: Callback<bool, std::rc::Rc<String>>,
    pub ondismiss: Callback<()>,
}

/// The banner saying where the reader's work went, with the way back.
#[function_component(WorkNotice)]
pub fn work_notice(p: &NoticeProps) -> Html {
    let l = p.lang;
    let (message, action) = match &p.notice {
        Notice::LinkOpened => (
            t(l, "You opened a link, so the editor shows its text. Your own text from before is kept."),
            t(l, "Bring back my text"),
        ),
        Notice::OtherTab { .. } => (
            t(l, "Another kpx tab has just saved different text. This tab keeps its own, and both are kept."),
            t(l, "Load the other tab's text"),
        ),
    };
    // Swaps the editor's state with the other text (read when clicked), keeping this tab's in
    // the slot.
    let onclick = {
        let (notice, onload, ours, dismiss) = (
            p.notice.clone(),
            p.onload.clone(),
            p.ours.clone(),
            p.ondismiss.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let other = match &notice {
                Notice::LinkOpened => previous(),
                Notice::OtherTab { fragment } => share::decode(fragment).ok(),
            };
            if let Some(other) = other {
                keep(&ours.emit(true));
                onload.emit(other);
            }
            dismiss.emit(());
        })
    };
    let dismiss = p.ondismiss.reform(|_: MouseEvent| ());
    html! {
        <p id="work-notice" class="banner" role="status">
            { message }{ " " }
            <button id="work-restore" onclick={onclick}>{ action }</button>{ " " }
            <button id="work-dismiss" onclick={dismiss}>{ t(l, "Dismiss") }</button>
        </p>
    }
}
