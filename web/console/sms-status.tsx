/**
 * Whether a certificate's SMS went out: polls
 * `GET /api/v1/people/{id}/certificates/{certificateId}/sms` until the message
 * reaches a final state (delivered, failed, no usable phone…) or two minutes pass.
 */
import type { VNode } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useTexts, type Texts } from '../lib/lang.ts';
import { GLOSSARY as G, lower } from '../lib/glossary.ts';
import { api } from './api.ts';

export type SmsState = 'queued' | 'pending' | 'submitted' | 'delivered' | 'failed' | 'expired' | 'unknown' | 'held' | 'cancelled' | 'no_phone';

const FINAL: ReadonlySet<SmsState> = new Set(['delivered', 'failed', 'expired', 'held', 'cancelled', 'no_phone']);
const POLL_MS = 2000;
const GIVE_UP_MS = 120_000;

type HoldReason = 'placeholder' | 'facility_phone' | 'shared';

const id: Record<SmsState | 'label' | 'checking' | 'to' | 'heldBecause' | `why.${HoldReason}`, string> = {
  label: 'SMS sertifikat',
  checking: 'memeriksa…',
  to: 'ke {to}',
  queued: lower(G.id['sms.queued']),
  pending: lower(G.id['sms.pending']),
  submitted: `${lower(G.id['sms.submitted'])}, menunggu kabar sampai`,
  delivered: lower(G.id['sms.delivered']),
  failed: 'gagal; dicoba lagi otomatis atau masuk daftar kerja',
  expired: 'kedaluwarsa; masuk daftar kerja',
  unknown: 'status belum diketahui; dicoba lagi',
  held: 'ditahan untuk diperiksa',
  heldBecause: 'ditahan untuk diperiksa: {why}. Perbaiki nomor HP di data orang ini (daftar kerja “nomor HP mencurigakan”).',
  'why.placeholder': 'nomor tampak asal diisi (angka berulang atau berurutan)',
  'why.facility_phone': 'nomor ini nomor faskes, bukan nomor orangnya',
  'why.shared': 'nomor ini dipakai lebih dari {limit} orang',
  cancelled: 'dibatalkan',
  no_phone: 'tidak dikirim: tidak ada nomor HP yang dapat dipakai (masuk daftar kerja nomor HP)',
};
const en: typeof id = {
  label: 'Certificate SMS',
  checking: 'checking…',
  to: 'to {to}',
  queued: lower(G.en['sms.queued']),
  pending: lower(G.en['sms.pending']),
  submitted: `${lower(G.en['sms.submitted'])}, awaiting the delivery report`,
  delivered: lower(G.en['sms.delivered']),
  failed: 'failed; retried automatically or put on a work list',
  expired: 'expired; put on a work list',
  unknown: 'status not known yet; retried',
  held: 'held for review',
  heldBecause: 'held for review: {why}. Correct the mobile number on this person’s record (the “suspicious phone” work list).',
  'why.placeholder': 'the number looks made up (repeated or counting digits)',
  'why.facility_phone': 'the number is a facility’s own, not the person’s',
  'why.shared': 'the number is on more than {limit} people',
  cancelled: 'cancelled',
  no_phone: 'not sent: no usable mobile number (on the phone work list)',
};
const TEXTS: Texts<keyof typeof id> = { id, en };

export function SmsStatus(props: { personId: string; certificateId: string }): VNode {
  const t = useTexts(TEXTS);
  const [state, setState] = useState<{ status: SmsState; recipient: string | null; reasons?: HoldReason[]; shareLimit?: number | null } | null>(null);
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const started = Date.now();
    const poll = async (): Promise<void> => {
      try {
        const r = await api<{ status: SmsState; recipient: string | null; reasons: HoldReason[]; shareLimit: number | null }>(
          'GET',
          `/api/v1/people/${encodeURIComponent(props.personId)}/certificates/${encodeURIComponent(props.certificateId)}/sms`,
        );
        if (stop) return;
        setState(r);
        if (FINAL.has(r.status)) return;
      } catch {
        // Offline or refused: try again on the next tick.
      }
      if (!stop && Date.now() - started < GIVE_UP_MS) timer = setTimeout(() => void poll(), POLL_MS);
    };
    void poll();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [props.personId, props.certificateId]);
  const tone = state?.status === 'delivered' ? 'ok' : state && ['failed', 'expired', 'no_phone', 'held', 'cancelled'].includes(state.status) ? 'bad' : 'wait';
  return (
    <p class={`sms-status sms-${tone}`} data-testid="sms-status" data-status={state?.status ?? ''} data-reasons={state?.reasons?.join(' ') ?? ''}>
      <strong>{t('label')}:</strong>{' '}
      {!state
        ? t('checking')
        : state.status === 'held' && state.reasons?.length
          ? t('heldBecause', { why: state.reasons.map((r) => t(`why.${r}`, { limit: state.shareLimit ?? '' })).join('; ') })
          : t(state.status)}
      {state?.recipient ? ` (${t('to', { to: state.recipient })})` : ''}
    </p>
  );
}
