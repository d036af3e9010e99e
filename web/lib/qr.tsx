/** A certificate's QR code, drawn in the browser from its HC1 text as one SVG path (no picture is ever fetched). */
import { useMemo } from 'preact/hooks';
import { QUIET_ZONE, qrMatrix, qrSvgPath } from '../../src/certificates/qr-matrix.ts';

export function QrCode(props: { text: string; label: string }) {
  const drawing = useMemo(() => {
    const m = qrMatrix(props.text);
    return { size: m.size + 2 * QUIET_ZONE, path: qrSvgPath(m) };
  }, [props.text]);
  return (
    <svg class="qr" viewBox={`0 0 ${drawing.size} ${drawing.size}`} role="img" aria-label={props.label} shape-rendering="crispEdges">
      <rect width={drawing.size} height={drawing.size} fill="#fff" />
      <path d={drawing.path} fill="#000" />
    </svg>
  );
}
