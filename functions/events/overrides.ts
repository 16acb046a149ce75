// K_CE_OVERRIDES: what a Knative SinkBinding (spec.ceOverrides) asks every outgoing event to carry.
import type { CloudEvent } from 'cloudevents';
import { z } from 'zod';

/** Attributes the spec defines: an override of these would break ids, routing or decoding. */
const RESERVED = new Set(['specversion', 'id', 'source', 'type', 'subject', 'time', 'datacontenttype', 'dataschema', 'data', 'data_base64']);

export type Extensions = Readonly<Record<string, string>>;

const extensionsSchema = z
  // Knative passes strings; numbers and booleans are accepted and sent as their text.
  .record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String))
  .default({})
  // Keys checked here, not by the record's key schema, whose message would not name the key.
  .superRefine((extensions, ctx) => {
    for (const [name, value] of Object.entries(extensions)) {
      // Binary mode sends extensions as ce-* headers, which cannot carry other characters.
      if (!/^[\x20-\x7e]*$/.test(value)) {
        ctx.addIssue({ code: 'custom', message: `extension "${name}": values are printable ASCII (they travel as HTTP headers)` });
      }
      if (!/^[a-z0-9]{1,20}$/.test(name)) {
        ctx.addIssue({ code: 'custom', message: `extension "${name}": names are 1-20 lowercase letters or digits` });
      } else if (RESERVED.has(name)) {
        ctx.addIssue({ code: 'custom', message: `extension "${name}": a core CloudEvents attribute cannot be overridden` });
      }
    }
  });

/** `{"extensions":{"name":"value"}}` as a JSON string, to the extensions to merge into every event. */
export const zCeOverrides = z
  .string()
  .trim()
  .transform((text, ctx): unknown => {
    try {
      return JSON.parse(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'expected JSON such as {"extensions":{"team":"video"}}' });
      return z.NEVER;
    }
  })
  .pipe(z.object({ extensions: extensionsSchema }))
  .transform((o): Extensions => o.extensions);

/** The event with the extensions set; applied at send time, so the binding's current overrides win. */
export function withOverrides<T>(event: CloudEvent<T>, extensions: Extensions): CloudEvent<T> {
  return Object.keys(extensions).length === 0 ? event : event.cloneWith({ ...extensions });
}
