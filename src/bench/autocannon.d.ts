// The part of autocannon's API the benchmark uses (the package ships no type declarations).
declare module 'autocannon' {
  export interface RequestOptions {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string
    setupRequest?: (request: RequestOptions) => RequestOptions
  }
  export interface Options {
    url: string
    connections?: number
    duration?: number
    amount?: number
    pipelining?: number
    headers?: Record<string, string>
    requests?: RequestOptions[]
  }
  export interface Histogram { p50: number, p99: number, average: number }
  export interface Result {
    duration: number
    latency: Histogram
    requests: Histogram & { total: number }
    '2xx': number
    non2xx: number
    errors: number
    timeouts: number
  }
  function autocannon (options: Options): Promise<Result>
  export default autocannon
}
