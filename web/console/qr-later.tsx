/**
 * The record form's QR code, its encoder (`lib/qr.tsx`, a quarter of the
 * form's own bytes) fetched when a certificate is first shown rather than
 * with the form (issue 17 item 16); a blank square of the same place until
 * then. The service worker keeps it for offline use like every built file.
 */
import { useEffect, useState } from 'preact/hooks';

type Qr = typeof import('../lib/qr.tsx').QrCode;
let loaded: Qr | null = null;

export function QrCode(props: { text: string; label: string }) {
  const [Qr, setQr] = useState<Qr | null>(() => loaded);
  useEffect(() => {
    if (Qr) return;
    let live = true;
    import('../lib/qr.tsx').then(
      (m) => {
        loaded = m.QrCode;
        if (live) setQr(() => m.QrCode);
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, []);
  return Qr ? <Qr {...props} /> : <div class="qr" role="img" aria-label={props.label} aria-busy="true" />;
}
