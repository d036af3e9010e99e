/** The few icons the pages use, inline (no icon font, nothing fetched). Decorative: hidden from screen readers. */

const common = { viewBox: '0 0 24 24', 'aria-hidden': true, focusable: 'false', fill: 'none', stroke: 'currentColor', 'stroke-width': 2, 'stroke-linecap': 'round', 'stroke-linejoin': 'round' } as const;

export const CameraIcon = () => (
  <svg {...common}>
    <path d="M4 8h3l2-3h6l2 3h3a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V9a1 1 0 0 1 1-1Z" />
    <circle cx="12" cy="13.5" r="3.5" />
  </svg>
);

export const ImageIcon = () => (
  <svg {...common}>
    <rect x="3" y="4" width="18" height="16" rx="2" />
    <circle cx="8.5" cy="9.5" r="1.5" />
    <path d="m21 16-5-5-9 9" />
  </svg>
);

export const PasteIcon = () => (
  <svg {...common}>
    <rect x="6" y="4" width="12" height="17" rx="2" />
    <path d="M9 4V3h6v1M9 10h6M9 14h6M9 18h3" />
  </svg>
);

export const ValidIcon = () => (
  <svg {...common} stroke-width={2.2}>
    <circle cx="12" cy="12" r="10" />
    <path d="m7.5 12.5 3 3 6-6.5" />
  </svg>
);

export const InvalidIcon = () => (
  <svg {...common} stroke-width={2.2}>
    <circle cx="12" cy="12" r="10" />
    <path d="m8.5 8.5 7 7M15.5 8.5l-7 7" />
  </svg>
);

export const CalendarIcon = () => (
  <svg {...common}>
    <rect x="3" y="5" width="18" height="16" rx="2" />
    <path d="M3 10h18M8 3v4M16 3v4" />
  </svg>
);

export const DownloadIcon = () => (
  <svg {...common}>
    <path d="M12 4v11M7 10l5 5 5-5M5 20h14" />
  </svg>
);

export const KeyIcon = () => (
  <svg {...common}>
    <circle cx="8" cy="15" r="4" />
    <path d="m10.8 12.2 8.2-8.2M16 7l3 3M14 9l2 2" />
  </svg>
);
