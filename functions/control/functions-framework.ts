import { http, type Request, type Response } from '@google-cloud/functions-framework';
import { singleValues, type ControlHandler, type ControlHandlers, type ControlRequest } from './handlers.js';

/** The functions-framework targets this module registers. */
export const FUNCTION_TARGETS = ['control', 'recordOn', 'recordOff', 'recordStatus'] as const;

function toControlRequest(req: Request): ControlRequest {
  // functions-framework parses JSON bodies; an empty body arrives as {} or a zero-length Buffer.
  const body: unknown = Buffer.isBuffer(req.body) ? (req.body.length === 0 ? undefined : req.body.toString('utf8')) : req.body;
  return {
    method: req.method,
    path: req.path,
    query: singleValues(req.query),
    headers: singleValues(req.headers, true),
    body,
  };
}

function adapt(pick: (handlers: ControlHandlers) => ControlHandler, handlers: () => Promise<ControlHandlers>) {
  return async (req: Request, res: Response): Promise<void> => {
    const response = await pick(await handlers())(toControlRequest(req));
    res.status(response.status).set(response.headers ?? {}).json(response.body);
  };
}

/** Registers `control`, `recordOn`, `recordOff` and `recordStatus` with functions-framework. */
export function registerControlFunctions(handlers: () => Promise<ControlHandlers>): void {
  http('control', adapt((h) => h.control, handlers));
  http('recordOn', adapt((h) => h.recordOn, handlers));
  http('recordOff', adapt((h) => h.recordOff, handlers));
  http('recordStatus', adapt((h) => h.recordStatus, handlers));
}
