import type { OpenImError } from '../../openim/errors.js'

// What to change when OpenIM (at OPENIM_API_URL) cannot be reached, by the system's or TLS's error code.
const BY_CODE: Record<string, string> = {
  ECONNREFUSED: 'nothing listens there: OPENIM_API_URL must be OpenIM\'s REST API (port 10002 by default, http://openim-server:10002 in docker compose)',
  ENOTFOUND: 'the host name does not resolve from here: fix OPENIM_API_URL (in docker compose, the service name openim-server)',
  EAI_AGAIN: 'the host name does not resolve from here (DNS did not answer): fix OPENIM_API_URL or this host\'s DNS',
  EHOSTUNREACH: 'no route to that host from here: check OPENIM_API_URL and the network between this host and OpenIM',
  ENETUNREACH: 'no route to that network from here: check OPENIM_API_URL and the network between this host and OpenIM',
  CERT_HAS_EXPIRED: 'the TLS certificate at OPENIM_API_URL has expired: renew it on the proxy in front of OpenIM',
  CERT_NOT_YET_VALID: 'the TLS certificate at OPENIM_API_URL is not valid yet: check the clocks of this host and of the proxy',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the TLS certificate at OPENIM_API_URL is self-signed: give Node its CA with ' +
    'NODE_EXTRA_CA_CERTS=/path/to/ca.pem, or use OpenIM\'s plain http address inside the network',
  SELF_SIGNED_CERT_IN_CHAIN: 'the TLS certificate at OPENIM_API_URL comes from a private CA: give Node that CA with ' +
    'NODE_EXTRA_CA_CERTS=/path/to/ca.pem',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the TLS certificate chain at OPENIM_API_URL is incomplete or from a private CA: serve the full ' +
    'chain, or set NODE_EXTRA_CA_CERTS',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the TLS certificate at OPENIM_API_URL comes from a CA this host does not know: set ' +
    'NODE_EXTRA_CA_CERTS=/path/to/ca.pem',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the TLS certificate is not for the host name in OPENIM_API_URL: use the name the certificate was ' +
    'issued for',
  ERR_SSL_WRONG_VERSION_NUMBER: 'OPENIM_API_URL says https but that port speaks plain http (OpenIM itself has no TLS): use http://',
  EPROTO: 'OPENIM_API_URL says https but the TLS handshake failed: use http:// if that port has no TLS'
}

const GENERIC = 'check OPENIM_API_URL and that OpenIM\'s REST API is up and reachable from this host'

export function networkHint (error: OpenImError): string {
  if (error.kind === 'timeout') {
    return 'something accepts connections there but does not answer in time: check OPENIM_API_URL\'s port (10002 is the REST API; ' +
      '10001 is the websocket) and OpenIM\'s health, or raise OPENIM_TIMEOUT_MS if OpenIM is only slow'
  }
  return BY_CODE[error.details.networkCode ?? ''] ?? GENERIC
}

/** OpenIM's routes are not under OPENIM_API_URL: say what the path should be. */
export function pathHint (apiUrl: string): string {
  const path = new URL(apiUrl).pathname.replace(/\/+$/, '')
  if (path !== '') {
    return `OPENIM_API_URL ends in "${path}" but OpenIM's routes start at the root: set it to ${new URL(apiUrl).origin} ` +
      '(keep a path only if a proxy in front of OpenIM really maps it)'
  }
  return 'OPENIM_API_URL reaches a server without OpenIM\'s routes: it must be OpenIM\'s REST API (port 10002), not openim-chat ' +
    '(10008) or the websocket (10001); behind a proxy that maps OpenIM under a path, put that path in OPENIM_API_URL'
}
