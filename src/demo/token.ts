import { demoJwtFile, readDemoJwt, signDemoToken } from './jwt.js'

// `npm run -s demo:token -- <userID>`: prints an end-user token (valid 12 h) that the running demo accepts.
const userID = process.argv[2]
const jwt = await readDemoJwt()
if (userID === undefined || userID.trim() === '') {
  console.error('usage: npm run -s demo:token -- <userID>')
  process.exit(1)
} else if (jwt === undefined) {
  console.error(`no demo secret in ${demoJwtFile}: start the demo once with \`npm run demo\``)
  process.exit(1)
} else {
  console.log(await signDemoToken(jwt, userID))
}
