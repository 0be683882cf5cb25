import {
  AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, SamplingDecision, TraceIdRatioBasedSampler, type Sampler, type SamplingResult
} from '@opentelemetry/sdk-trace-node'
import type { TracingConfig } from '../config/index.js'

/**
 * `traceidratio` for a trace a caller started. The ratio sampler decides on the trace id, and a caller's
 * traceparent chooses that id: ids with a low XOR of their 32-bit words (000…001, say) are always kept, so any
 * caller could have every request it sends recorded, fill the span queue and push out the traces worth keeping.
 * Here the decision is a draw of ours, which the caller neither sees nor influences (so Math.random is enough);
 * the trace id stays the caller's, and the spans join its trace when they are kept.
 */
export class CallerProofRatioSampler implements Sampler {
  constructor (private readonly ratio: number) {}

  shouldSample (): SamplingResult {
    return { decision: Math.random() < this.ratio ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD }
  }

  toString (): string {
    return `CallerProofRatio{${this.ratio}}`
  }
}

/**
 * A caller's traceparent is continued (same trace id, its span as our parent) but its sampled flag is not
 * obeyed, or any browser could switch on full sampling: remote parents go through our own sampler. Spans
 * inside the gateway follow their local parent, so a trace is kept or dropped whole. Traces the gateway
 * starts have an id of its own choosing, so the ratio sampler may decide on it there.
 */
export function sampler ({ sampler, ratio }: TracingConfig): Sampler {
  if (sampler === 'traceidratio') {
    const remote = new CallerProofRatioSampler(ratio)
    return new ParentBasedSampler({
      root: new TraceIdRatioBasedSampler(ratio), remoteParentSampled: remote, remoteParentNotSampled: remote
    })
  }
  const own = sampler === 'always_off' ? new AlwaysOffSampler() : new AlwaysOnSampler()
  return new ParentBasedSampler({ root: own, remoteParentSampled: own, remoteParentNotSampled: own })
}
