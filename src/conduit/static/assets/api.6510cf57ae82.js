export class ApiError extends Error {
  constructor(status, errors) {
    super(`the API answered ${status}`);
    this.status = status;
    this.errors = errors;
  }

  messages() {
    return Object.entries(this.errors).flatMap(([field, problems]) =>
      (Array.isArray(problems) ? problems : [problems]).map((problem) => `${field} ${problem}`),
    );
  }
}

let token = null;

export function useToken(value) {
  token = value;
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Token ${token}`;
  let response;
  try {
    response = await fetch(`/api${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-cache", // revalidate (ETag): after a write the pages show it at once
    });
  } catch {
    throw new ApiError(0, { server: ["cannot be reached; check your connection and try again"] });
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, data?.errors ?? { server: [`answered ${response.status}`] });
  }
  return data;
}
