/**
 * One searchable field that picks from a list (WAI-ARIA combobox with a
 * listbox popup): type part of a name or code, the matches appear under the
 * field, pick one by tap, click or arrows + Enter. What is picked reads back
 * in the field ("Puskesmas Menteng (PKM-MENTENG)"); typing again unpicks it.
 * The caller fetches the matches for the text (`onQuery`) and hands them in.
 */
import { useId, useState } from 'preact/hooks';
import { describedByOf, Field } from './ui.tsx';

export interface ComboOption {
  value: string;
  label: string;
}

export function Combobox(props: {
  id: string;
  label: string;
  hint?: string;
  /** What is typed. */
  query: string;
  onQuery: (q: string) => void;
  /** The matches for the query; null: nothing asked yet (fewer than the letters needed). */
  options: ComboOption[] | null;
  /** The picked value ('' none). */
  value: string;
  onPick: (option: ComboOption | null) => void;
  none: string;
  error?: string | undefined;
}) {
  const listId = useId();
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const options = props.options ?? [];
  const shown = open && props.options !== null && !props.value;
  const pick = (o: ComboOption) => {
    props.onPick(o);
    props.onQuery(o.label);
    setOpen(false);
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      setOpen(true);
      if (options.length) setActive((a) => (a + (e.key === 'ArrowDown' ? 1 : options.length - 1)) % options.length);
    } else if (e.key === 'Enter' && shown && options[active]) {
      e.preventDefault();
      pick(options[active]);
    } else if (e.key === 'Escape') {
      setOpen(false);
    }
  };
  return (
    <Field id={props.id} label={props.label} hint={props.hint} error={props.error} class="combobox">
      <input
        id={props.id}
        type="text"
        role="combobox"
        autoComplete="off"
        maxLength={100}
        aria-autocomplete="list"
        aria-expanded={shown ? 'true' : 'false'}
        aria-controls={listId}
        aria-activedescendant={shown && options[active] ? `${listId}-${active}` : undefined}
        aria-invalid={props.error ? 'true' : 'false'}
        aria-describedby={describedByOf(props)}
        value={props.query}
        onInput={(e) => {
          props.onQuery(e.currentTarget.value);
          if (props.value) props.onPick(null);
          setActive(0);
          setOpen(true);
        }}
        onFocus={() => setOpen(true)}
        onKeyDown={onKeyDown}
      />
      <ul id={listId} role="listbox" class="combobox-list" hidden={!shown || options.length === 0}>
        {options.map((o, i) => (
          <li
            id={`${listId}-${i}`}
            key={o.value}
            role="option"
            aria-selected={i === active ? 'true' : 'false'}
            // mousedown, not click: the input would lose focus (and the list close) first.
            onMouseDown={(e) => {
              e.preventDefault();
              pick(o);
            }}
          >
            {o.label}
          </li>
        ))}
      </ul>
      {shown && options.length === 0 && <span class="hint">{props.none}</span>}
    </Field>
  );
}
