/** A link to another console URL: a real href (open in a new tab works), followed in place by the shell's router. */
import type { ComponentChildren } from 'preact';

export function Link(props: { to: string; navigate: (to: string) => void; children: ComponentChildren; class?: string }) {
  return (
    <a
      href={props.to}
      class={props.class}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        props.navigate(props.to);
      }}
    >
      {props.children}
    </a>
  );
}
