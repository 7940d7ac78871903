// The playground's code editor: CodeMirror 6 with Python, bundled by
// build.mjs into assets/editor.js. It only offers window.OnPyEditor; the
// page's own script (assets/app.js) decides when to mount it, and works
// with the plain textarea when this bundle never arrives.
import { EditorState } from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLine,
  highlightActiveLineGutter, drawSelection, highlightSpecialChars,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { bracketMatching, indentOnInput, indentUnit, syntaxHighlighting } from "@codemirror/language";
import { classHighlighter } from "@lezer/highlight";
import { python } from "@codemirror/lang-python";

// Colours come from the page's CSS variables, so light and dark follow
// prefers-color-scheme with the rest of the page (see assets/style.css).
const theme = EditorView.theme({
  "&": { color: "var(--fg)", backgroundColor: "var(--code-bg)", height: "100%" },
  ".cm-content": { caretColor: "var(--fg)", fontFamily: "var(--mono)" },
  ".cm-cursor, .cm-dropCursor": { borderLeftColor: "var(--fg)" },
  "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, .cm-content ::selection":
    { backgroundColor: "var(--selection)" },
  ".cm-gutters": { backgroundColor: "var(--gutter-bg)", color: "var(--muted)", borderRight: "1px solid var(--border)" },
  ".cm-activeLine": { backgroundColor: "var(--active-line)" },
  ".cm-activeLineGutter": { backgroundColor: "var(--active-line)", color: "var(--fg)" },
  "&.cm-focused": { outline: "none" },
  ".cm-scroller": { fontFamily: "var(--mono)", lineHeight: "1.5" },
});

/**
 * mount replaces textarea with an editor holding its text, and returns
 * what the page needs: get, set and focus.
 * @param {HTMLTextAreaElement} textarea
 * @param {{onRun?: () => void, onChange?: () => void, label?: string}} opts
 */
function mount(textarea, opts) {
  const runKey = {
    key: "Mod-Enter",
    preventDefault: true,
    run: () => { if (opts.onRun) opts.onRun(); return true; },
  };
  const view = new EditorView({
    parent: textarea.parentNode,
    state: EditorState.create({
      doc: textarea.value,
      extensions: [
        lineNumbers(), highlightActiveLineGutter(), highlightSpecialChars(), history(),
        drawSelection(), indentOnInput(), indentUnit.of("    "), bracketMatching(),
        highlightActiveLine(), syntaxHighlighting(classHighlighter), python(), theme,
        keymap.of([runKey, ...defaultKeymap, ...historyKeymap, indentWithTab]),
        EditorView.contentAttributes.of({
          "aria-label": opts.label || "Code",
          "aria-describedby": textarea.getAttribute("aria-describedby") || "",
          autocapitalize: "off", autocorrect: "off", spellcheck: "false",
        }),
        EditorView.updateListener.of((u) => { if (u.docChanged && opts.onChange) opts.onChange(); }),
      ],
    }),
  });
  textarea.hidden = true;
  return {
    get: () => view.state.doc.toString(),
    set: (text) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } }),
    focus: () => view.focus(),
    view,
  };
}

window.OnPyEditor = { mount };
document.dispatchEvent(new Event("onpy-editor"));
