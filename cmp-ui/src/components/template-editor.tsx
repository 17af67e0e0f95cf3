/**
 * A template source in CodeMirror 6 with Handlebars expressions highlighted (a mark decoration
 * over every {{…}}, {{{…}}}, {{#…}}, {{/…}} and {{! … }}), and the save-time template error of
 * this field shown at its line. Tab is left to the browser, so keyboard users move on to the next
 * field; the editor's content carries the field's label and describes its error.
 */
import { useEffect, useRef } from 'preact/hooks';
import { EditorState, StateEffect, StateField, type Extension } from '@codemirror/state';
import { Decoration, EditorView, MatchDecorator, ViewPlugin, keymap, lineNumbers, type DecorationSet, type ViewUpdate } from '@codemirror/view';
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';

export interface TemplateError {
  readonly line: number;
  readonly column: number | null;
  readonly message: string;
}

const handlebarsMark = new MatchDecorator({
  regexp: /\{\{\{?[\s\S]*?\}?\}\}/g,
  decoration: (match) => Decoration.mark({ class: match[0].startsWith('{{!') ? 'cm-hbs-comment' : /^\{\{[#/^]|^\{\{else/.test(match[0]) ? 'cm-hbs-block' : 'cm-hbs' }),
});

const handlebarsHighlight = ViewPlugin.fromClass(
  class {
    decorations: DecorationSet;
    constructor(view: EditorView) {
      this.decorations = handlebarsMark.createDeco(view);
    }
    update(update: ViewUpdate): void {
      this.decorations = handlebarsMark.updateDeco(update, this.decorations);
    }
  },
  { decorations: (plugin) => plugin.decorations },
);

const setErrorLine = StateEffect.define<number | null>();
const errorLineField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(decorations, transaction) {
    decorations = decorations.map(transaction.changes);
    for (const effect of transaction.effects) {
      if (!effect.is(setErrorLine)) continue;
      const lineNumber = effect.value;
      if (lineNumber === null || lineNumber < 1 || lineNumber > transaction.state.doc.lines) return Decoration.none;
      const line = transaction.state.doc.line(lineNumber);
      decorations = Decoration.set([Decoration.line({ class: 'cm-error-line' }).range(line.from)]);
    }
    return decorations;
  },
  provide: (field) => EditorView.decorations.from(field),
});

export function TemplateEditor({ id, label, value, onChange, error, multiline = true }: { id: string; label: string; value: string; onChange: (value: string) => void; error: TemplateError | null; multiline?: boolean }) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const latestChange = useRef(onChange);
  latestChange.current = onChange;
  const errorId = `${id}-error`;

  useEffect(() => {
    if (!host.current) return;
    const extensions: Extension[] = [
      history(),
      keymap.of([...defaultKeymap, ...historyKeymap]),
      handlebarsHighlight,
      errorLineField,
      EditorView.lineWrapping,
      EditorView.contentAttributes.of({ 'aria-labelledby': `${id}-label`, 'aria-describedby': errorId, id: `${id}-input`, 'aria-multiline': String(multiline) }),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) latestChange.current(update.state.doc.toString());
      }),
    ];
    if (multiline) extensions.push(lineNumbers());
    else extensions.push(EditorState.transactionFilter.of((tr) => (tr.newDoc.lines > 1 ? [] : tr)));
    view.current = new EditorView({ parent: host.current, state: EditorState.create({ doc: value, extensions }) });
    return () => view.current?.destroy();
  }, []);

  // A value changed from outside (reload, overwrite) replaces the document.
  useEffect(() => {
    const current = view.current;
    if (current && current.state.doc.toString() !== value) current.dispatch({ changes: { from: 0, to: current.state.doc.length, insert: value } });
  }, [value]);

  useEffect(() => {
    view.current?.dispatch({ effects: setErrorLine.of(error?.line ?? null) });
  }, [error?.line, error?.message]);

  return (
    <div class={`field editor-field${error ? ' has-error' : ''}`}>
      <label id={`${id}-label`} for={`${id}-input`} onClick={() => view.current?.focus()}>
        {label}
      </label>
      <div ref={host} class={multiline ? 'editor' : 'editor single'} />
      <p id={errorId} class="field-error" role={error ? 'alert' : undefined}>
        {error ? `Line ${error.line}${error.column === null ? '' : `, column ${error.column}`}: ${error.message}` : ''}
      </p>
    </div>
  );
}

/**
 * Reads the middleware's INLAY_MW_TEMPLATE_INVALID message, e.g. "body.variants[0].template.html
 * is not a valid Handlebars template: line 3, column 4: if doesn't match each", into the field
 * path ("variants[0].template.html") and the place.
 */
export function parseTemplateError(message: string): { path: string; error: TemplateError } | null {
  const match = /body\.([\w.[\]]+) is not a valid Handlebars template: (?:line (\d+)(?:, column (\d+))?: )?([\s\S]*)$/.exec(message);
  if (!match) return null;
  return { path: match[1] ?? '', error: { line: Number(match[2] ?? 1), column: match[3] === undefined ? null : Number(match[3]), message: match[4] ?? message } };
}
