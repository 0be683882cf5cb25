/* global db */ // mongosh's database handle
// Runs once, when the mongo volume is first created: the account openim-server and openim-chat use.
const database = process.env.MONGO_INITDB_DATABASE
db.getSiblingDB(database).createUser({
  user: process.env.MONGO_OPENIM_USERNAME,
  pwd: process.env.MONGO_OPENIM_PASSWORD,
  roles: [{ role: 'readWrite', db: database }]
})
