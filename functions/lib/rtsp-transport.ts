// The Transport header (RFC 2326 §12.39): what a client asks for in SETUP and what the server answers.

export type DeliveryMode = 'play' | 'record';

/** One transport the server accepts: RTP interleaved in the RTSP connection, or RTP over UDP to the client's ports. */
export type TransportRequest =
  | { readonly lower: 'tcp'; readonly mode: DeliveryMode; readonly interleaved?: readonly [number, number] }
  | { readonly lower: 'udp'; readonly mode: DeliveryMode; readonly clientPorts: readonly [number, number] };

function pair(value: string, max: number, min: number): readonly [number, number] | undefined {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(value);
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a + 1 : Number(m[2]);
  return a >= min && b >= min && a <= max && b <= max ? [a, b] : undefined;
}

/** The first alternative we support, or undefined (answer 461). Multicast is not offered. */
export function parseTransport(value: string): TransportRequest | undefined {
  for (const alternative of value.split(',')) {
    const [spec = '', ...params] = alternative.split(';').map((p) => p.trim());
    const profile = /^RTP\/AVP(?:\/(TCP|UDP))?$/i.exec(spec);
    if (!profile) continue;
    const lower = profile[1]?.toLowerCase() === 'tcp' ? 'tcp' : 'udp';
    const values = new Map<string, string>();
    for (const p of params) {
      const eq = p.indexOf('=');
      values.set((eq < 0 ? p : p.slice(0, eq)).toLowerCase(), eq < 0 ? '' : p.slice(eq + 1).replace(/^"|"$/g, ''));
    }
    if (values.has('multicast')) continue;
    const modeValue = (values.get('mode') ?? 'play').toLowerCase();
    if (modeValue !== 'play' && modeValue !== 'record') continue;
    const mode: DeliveryMode = modeValue;
    if (lower === 'tcp') {
      const raw = values.get('interleaved');
      if (raw === undefined) return { lower, mode };
      const interleaved = pair(raw, 255, 0);
      if (interleaved) return { lower, mode, interleaved };
      continue;
    }
    const clientPorts = pair(values.get('client_port') ?? '', 65535, 1);
    if (clientPorts) return { lower: 'udp', mode, clientPorts };
  }
  return undefined;
}

/** The Transport value of a SETUP response. */
export function formatTransport(
  t:
    | { readonly lower: 'tcp'; readonly channels: readonly [number, number]; readonly mode: DeliveryMode }
    | { readonly lower: 'udp'; readonly clientPorts: readonly [number, number]; readonly serverPorts: readonly [number, number]; readonly mode: DeliveryMode },
): string {
  const mode = t.mode === 'record' ? ';mode=record' : '';
  return t.lower === 'tcp'
    ? `RTP/AVP/TCP;unicast;interleaved=${t.channels[0]}-${t.channels[1]}${mode}`
    : `RTP/AVP;unicast;client_port=${t.clientPorts[0]}-${t.clientPorts[1]};server_port=${t.serverPorts[0]}-${t.serverPorts[1]}${mode}`;
}
