// Provisional: the security work (issue 10) builds the shared predicate for /provision and /revoke; this
// one function is what the /users routes and the import use until it lands, so it can be swapped in one place.
export function isReservedUserID (reservedUserIDs: ReadonlySet<string>, userID: string): boolean {
  return reservedUserIDs.has(userID)
}
