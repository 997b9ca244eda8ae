//! A bug in kpx must not leave a dead page and lose the reader's text. The panic hook (plain DOM
//! calls, nothing of Yew's, which is mid-render) saves the editor's text as the reader's work,
//! says what happened in the page, and offers a reload and the text as a file.

use wasm_bindgen::JsCast;

/// Installs the hook (through Yew, which would otherwise put its own in place on render).
pub fn install() {
    yew::set_custom_panic_hook(Box::new(|info| {
        web_sys::console::error_1(&format!("kpx: {info}").into());
        let text = editor_text();
        if let Some(text) = &text {
            rescue(text);
        }
        show(text.as_deref(), &info.to_string());
    }));
}

fn document() -> Option<web_sys::Document> {
    web_sys::window().and_then(|w| w.document())
}

/// The editor's text as the reader last typed it (newer than the saved state, which is written
/// after a change is drawn).
fn editor_text() -> Option<String> {
    // A long text's text box holds only some of its lines: the whole is kept beside it.
    if let Some(text) = crate::windowed::text() {
        return Some(text.to_string());
    }
    document()?
        .get_element_by_id("editor")?
        .dyn_into::<web_sys::HtmlTextAreaElement>()
        .ok()
        .map(|e| e.value())
}

/// Saves `text` as the reader's work, with the rest of the last saved state.
fn rescue(text: &str) {
    use gloo::storage::{LocalStorage, Storage};
    let mut shared = LocalStorage::get::<String>(crate::keep::SAVED_KEY)
        .ok()
        .and_then(|f| kpx_core::share::decode(&f).ok())
        .unwrap_or_default();
    shared.text = text.to_string();
    let _ = LocalStorage::set(crate::keep::SAVED_KEY, kpx_core::share::encode(&shared));
}

fn show(text: Option<&str>, detail: &str) {
    let Some(doc) = document() else { return };
    let Some(body) = doc.body() else { return };
    let Ok(panel) = doc.create_element("div") else {
        return;
    };
    panel.set_id("crash");
    panel.set_class_name("banner crash");
    let _ = panel.set_attribute("role", "alert");
    let zh = doc
        .document_element()
        .and_then(|e| e.get_attribute("lang"))
        .is_some_and(|l| l.starts_with("zh"));
    let (says, reload, save) = if zh {
        (
            "kpx 出错了，已停止运行。你的文本已保存：重新加载页面即可继续。",
            "重新加载",
            "下载 YAML",
        )
    } else {
        (
            "kpx hit a bug and stopped. Your text is saved: reload the page to carry on.",
            "Reload",
            "Download YAML",
        )
    };
    // Text nodes only: the panic message may quote the reader's input.
    let add = |tag: &str, content: &str| -> Option<web_sys::Element> {
        let e = doc.create_element(tag).ok()?;
        e.set_text_content(Some(content));
        panel.append_child(&e).ok()?;
        Some(e)
    };
    add("p", says);
    if let Some(b) = add("button", reload) {
        b.set_id("crash-reload");
        let reload = wasm_bindgen::closure::Closure::<dyn Fn()>::new(|| {
            if let Some(w) = web_sys::window() {
                let _ = w.location().reload();
            }
        });
        let _ = b.add_event_listener_with_callback("click", reload.as_ref().unchecked_ref());
        reload.forget();
    }
    if let (Some(text), Some(a)) = (text, add("a", save)) {
        if let Some(url) = crate::yaml_url(text) {
            let _ = a.set_attribute("href", &url);
            let _ = a.set_attribute("download", crate::DOWNLOAD_NAME);
            a.set_id("crash-download");
        }
    }
    if let Some(d) = add("details", "") {
        let _ = doc.create_element("summary").map(|s| {
            s.set_text_content(Some("details"));
            let _ = d.append_child(&s);
        });
        if let Ok(pre) = doc.create_element("pre") {
            pre.set_text_content(Some(detail));
            let _ = d.append_child(&pre);
        }
    }
    let _ = body.prepend_with_node_1(&panel);
}
