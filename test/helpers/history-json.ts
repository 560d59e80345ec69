import path from 'node:path';
import * as sdk from '@temporalio/common/lib/proto-utils';
import type { History } from '@temporalio/common/lib/proto-utils';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

/**
 * Histories in the SDK's JSON form (`historyToJSON` / `historyFromJSON` of
 * @temporalio/common/lib/proto-utils, the form `temporal workflow show --output json` and the Web
 * UI export too).
 *
 * Why not call the SDK's functions directly: in this install @temporalio/common and
 * @temporalio/proto each carry their own copy of protobufjs 8 (the top-level one is 7, for other
 * packages), and the SDK's functions pass @temporalio/proto's message types to @temporalio/common's
 * copy of protobufjs's JSON codec, which refuses them ("type must be a Type"). The fallback is the
 * same codec from the copy @temporalio/proto's types were built with, so the output is the same.
 * The SDK's functions are tried first: once the install has one copy, they are what runs.
 */

interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
}

let fallback: { codec: ProtoJson; historyType: unknown } | undefined;
function protoJson(): { codec: ProtoJson; historyType: unknown } {
  if (!fallback) {
    const protoDir = path.dirname(require.resolve('@temporalio/proto/package.json'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const codec = require(require.resolve('protobufjs/ext/protojson', { paths: [protoDir] })) as ProtoJson;
    const root = patchProtobufRoot(proto as unknown as Record<string, unknown>) as unknown as { lookupType(name: string): unknown };
    fallback = { codec, historyType: root.lookupType('temporal.api.history.v1.History') };
  }
  return fallback;
}

const isDuplicateProtobufjs = (err: unknown) => err instanceof Error && /type must be a Type/.test(err.message);

export function historyToJSON(history: History): string {
  try {
    return sdk.historyToJSON(history);
  } catch (err) {
    if (!isDuplicateProtobufjs(err)) throw err;
    const { codec, historyType } = protoJson();
    return JSON.stringify(codec.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history)), null, 2);
  }
}

/** A history message (event ids as Long, enums as numbers): what `Worker.runReplayHistories` replays as is. */
export function historyFromJSON(json: unknown): History {
  try {
    return sdk.historyFromJSON(json);
  } catch (err) {
    if (!isDuplicateProtobufjs(err)) throw err;
    const { codec, historyType } = protoJson();
    // Our files come from historyToJSON: enum values are already in their full names, which is
    // all the SDK's own pre-processing adds (for the short names of older tools).
    const loaded = codec.fromJson(historyType, json, { ignoreUnknownFields: true }) as History | null;
    if (!loaded || !Array.isArray(loaded.events)) throw new TypeError('Invalid history, expected an object with an array of events');
    return loaded;
  }
}
