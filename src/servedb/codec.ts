// The serves file (serves.new, serves.loaded) as io-ts sees it (docs/serve-db.md).
// Decoding is in two stages so that one bad serve does not hide the problems of the others:
// the document first (`serves` is a list), then each entry on its own.
// The codecs check types only; what io-ts cannot say well lives in validate.ts: "exactly one of
// t or url" (a t.union would report every branch's failures, which reads worse than one plain
// sentence), absolute and unique socket paths, URL parsing and credentials.
// t.type and t.partial let unknown keys through, which is what the spec asks (tools keep
// bookkeeping beside ours); they are ignored, never copied into a Serve.
import * as t from 'io-ts';

/** The document: an object whose `serves` is a list; entries are decoded by RawServeCodec. */
export const ServesDocumentCodec = t.type({ serves: t.UnknownArray }, 'serves document');

/** One entry of `serves`, before the either-or rule and URL parsing. */
export const RawServeCodec = t.intersection(
  [
    t.type({
      i: t.string, // identity (logfebe.identity); may be empty
      p: t.string, // absolute unix socket path
    }),
    t.partial({
      t: t.string, // a token posted to the collector-wide LOGPLEX_URL
      url: t.string, // a full logplex URL with credentials, for this serve only
      name: t.string, // label shown in every line
    }),
  ],
  'serve',
);

export type RawServe = t.TypeOf<typeof RawServeCodec>;

/** Keys whose values are secret (a token, a URL with credentials): errors never echo them. */
export const SECRET_KEYS: ReadonlySet<string> = new Set(['t', 'url']);
