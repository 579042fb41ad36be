/**
 * A front end's first calls to Keyframe, written only against the types openapi-typescript
 * generates from /openapi.json (generated/keyframe.ts) and openapi-fetch. It is never run: the
 * test suite type-checks it (tsc --strict), so a document that stops describing these calls, their
 * headers or their error codes fails the build here first.
 */
import createClient, { type Middleware } from "openapi-fetch";

import type { components, operations, paths } from "./generated/keyframe";

type Schemas = components["schemas"];
type ErrorBody = Schemas["Error"];
/** Every error code the API can answer. */
type ErrorCode = ErrorBody["error"]["code"];
type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 412 | 413 | 415 | 429 | 500 | 503;
/** The error codes an operation can answer: a finite union read from its documented responses. */
type CodesOf<Op extends { responses: object }> = {
  [S in keyof Op["responses"]]: S extends ErrorStatus
    ? Op["responses"][S] extends { content: { "application/json": infer Body } }
      ? Body extends { error: { code: infer Code } }
        ? Code
        : never
      : never
    : never;
}[keyof Op["responses"]];
type UpdateAssetError = CodesOf<operations["updateAsset"]>;

export class KeyframeError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    readonly correlationId: string,
    readonly details: Schemas["ErrorDetails"] | undefined,
  ) {
    super(`${status} ${code} (${correlationId})`);
  }
}

function fail(status: number, body: ErrorBody): never {
  throw new KeyframeError(status, body.error.code, body.error.correlationId, body.error.details);
}

/** Sign in and return a client that sends the access token on every call. */
export async function signIn(baseUrl: string, email: string, password: string) {
  const api = createClient<paths>({ baseUrl });
  const { data, error, response } = await api.POST("/auth/login", { body: { email, password } });
  if (error) fail(response.status, error);
  const session: Schemas["AuthResponse"] = data;
  const auth: Middleware = {
    onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${session.accessToken}`);
      request.headers.set("X-Correlation-Id", crypto.randomUUID());
      return request;
    },
  };
  api.use(auth);
  return { api, session };
}

type Api = Awaited<ReturnType<typeof signIn>>["api"];

/** Read an asset, then change its description only if nobody changed it meanwhile (If-Match). */
export async function retitle(api: Api, assetId: string, description: string): Promise<Schemas["Asset"] | "stale"> {
  const read = await api.GET("/assets/{assetId}", { params: { path: { assetId } } });
  if (read.error) fail(read.response.status, read.error);
  const etag = read.response.headers.get("ETag") ?? "";
  const patched = await api.PATCH("/assets/{assetId}", {
    params: { path: { assetId }, header: { "If-Match": etag } },
    body: { description },
  });
  if (patched.error) {
    const code: UpdateAssetError = patched.error.error.code;
    if (code === "PRECONDITION_FAILED") return "stale";
    fail(patched.response.status, patched.error);
  }
  return patched.data;
}

/** Upload a file as the asset's next version: open, PUT each part to S3, complete. */
export async function upload(api: Api, assetId: string, file: Blob, fileName: string) {
  const opened = await api.POST("/assets/{assetId}/uploads", {
    params: { path: { assetId } },
    body: { fileName, contentType: file.type || "application/octet-stream", size: file.size },
  });
  if (opened.error) fail(opened.response.status, opened.error);
  const session: Schemas["OpenUploadResponse"] = opened.data;
  const parts: Schemas["CompletedPartIn"][] = [];
  for (const part of session.parts) {
    const start = (part.partNumber - 1) * session.partSize;
    const sent = await fetch(part.url, { method: "PUT", body: file.slice(start, start + session.partSize) });
    parts.push({ partNumber: part.partNumber, etag: sent.headers.get("ETag") ?? "" });
  }
  const completed = await api.POST("/assets/{assetId}/uploads/{uploadId}/complete", {
    params: { path: { assetId, uploadId: session.uploadId } },
    body: { parts },
  });
  if (completed.error) fail(completed.response.status, completed.error);
  const accepted: Schemas["CompleteUploadResponse"] = completed.data;
  return accepted;
}

/** Request an HLS render once, however often the call is retried (Idempotency-Key). */
export async function renderOnce(api: Api, assetId: string, key: string): Promise<Schemas["RenderJob"]> {
  const { data, error, response } = await api.POST("/assets/{assetId}/renders", {
    params: { path: { assetId }, header: { "Idempotency-Key": key } },
    body: { preset: "hls" },
  });
  if (error) {
    if (error.error.code === "CONCURRENT_RENDERS_QUOTA_EXCEEDED") {
      const wait = Number(response.headers.get("Retry-After") ?? "15");
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
      return renderOnce(api, assetId, key);
    }
    fail(response.status, error);
  }
  const location: string | null = response.headers.get("Location");
  void location;
  return data;
}

/** A typed error: the codes are a finite union, per route; a code the route cannot answer does not compile. */
export function explain(error: KeyframeError): string {
  const stale: UpdateAssetError = "PRECONDITION_FAILED";
  // @ts-expect-error PATCH /assets/{assetId} never answers CONCURRENT_RENDERS_QUOTA_EXCEEDED
  const impossible: UpdateAssetError = "CONCURRENT_RENDERS_QUOTA_EXCEEDED";
  void impossible;
  const fields = (error.details?.fields ?? []).map((f: Schemas["FieldError"]) => `${f.field}: ${f.message}`);
  return error.code === stale ? "Someone changed it first; reload" : [error.message, ...fields].join("\n");
}
