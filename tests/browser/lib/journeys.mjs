// Small journeys that several browser tests walk the same way: the registrar registers a doctor, a
// doctor asks a patient for access, a patient uploads records and answers a request. Each waits for
// the page's own confirmation (mined transactions included), so a test can go on from there.
import assert from 'node:assert/strict'
import { CHAIN_TIMEOUT, chooseFile, keySetupSettled, tab, until, untilRefreshed } from './stack.mjs'

/** A card of the page by its heading (a QueryCard is a region named by its title). */
export const region = (page, name) => page.getByRole('region', { name, exact: true })

/** onArrive check for useStack(): patients and doctors end their first sign-in with a key set up. */
export async function keyIsSetUp(user, role) {
  if (role !== 'registrar') assert.equal(await keySetupSettled(user.page), 'present')
}

/** On the registrar's "Doctor registry": register `address` as `name` with `licence`, until the chain confirms it. */
export async function registerDoctor(page, { address, name, licence }) {
  await page.getByLabel("Doctor's wallet address").fill(address)
  await page.getByRole('textbox', { name: /^Name/ }).fill(name)
  await page.getByLabel('Licence number').fill(licence)
  await page.getByRole('button', { name: 'Register doctor', exact: true }).click()
  await page.getByRole('status').filter({ hasText: `Doctor ${address} registered.` }).waitFor({ timeout: CHAIN_TIMEOUT })
}

/**
 * On the doctor's "Find a patient" (opened here): look `patient` up by address, give `reason` and sign the request
 * with the button named `button` (a string or RegExp: what it must say about the patient).
 * `lastStatus`: wait for the newest "Request sent." (a second request while the first still shows).
 */
export async function requestAccess(page, { patient, reason, button, lastStatus = false }) {
  await tab(page, 'Find patient')
  await page.getByLabel("Patient's name or wallet address").fill(patient)
  await page.getByRole('button', { name: 'Search', exact: true }).click()
  await until('the patient address in the request form', async () => (await page.getByLabel("Patient's address").inputValue()).toLowerCase() === patient.toLowerCase())
  await page.getByLabel('Reason (the patient reads this)').fill(reason)
  await page.getByRole('button', { name: button }).click()
  const sent = page.getByRole('status').filter({ hasText: 'Request sent.' })
  await (lastStatus ? sent.last() : sent).waitFor({ timeout: CHAIN_TIMEOUT })
}

/** Sign the key message if the page asks for it (it is usually unlocked by the key setup at sign-in). */
export async function unlockIfAsked(scope) {
  const unlock = scope.getByRole('button', { name: /Sign the key message/ })
  if (await unlock.isVisible()) await unlock.click()
}

/** The "Stored and anchored" notice of the upload named `name`. */
export const storedNotice = (page, name) => page.getByRole('status').filter({ hasText: 'Stored and anchored' }).filter({ hasText: name })

/**
 * On the patient's Upload tab, with the list of finished uploads cleared, choose `file` ({ name,
 * fileName, mimeType, buffer, type? }) and wait until it is fingerprinted and the key is unlocked:
 * ready to sign.
 */
export async function chooseForUpload(page, file) {
  const clear = page.getByRole('button', { name: 'Clear the list' })
  if (await clear.isVisible()) await clear.click()
  await chooseFile(page, file)
  if (file.type) await page.getByRole('combobox', { name: /^Type/ }).selectOption(file.type)
  await unlockIfAsked(page)
  await page.getByText('Encryption key unlocked').waitFor()
}

/** On the patient's Upload tab, upload `files` (see chooseForUpload()) one after the other, each until "Stored and anchored". */
export async function uploadRecords(page, files) {
  await tab(page, 'Upload')
  for (const file of files) {
    await chooseForUpload(page, file)
    await page.getByRole('button', { name: /Sign AddRecord for this file and upload/ }).click()
    await storedNotice(page, file.name).waitFor({ timeout: CHAIN_TIMEOUT })
  }
}

/** Mid-upload, go to "My records" and back to Upload: the upload of `fileName` is still listed as sending. */
export async function awayFromUploadAndBack(page, fileName) {
  await tab(page, 'My records')
  await page.getByRole('heading', { name: 'Upload records' }).waitFor({ state: 'detached' })
  await tab(page, 'Upload')
  await page.locator(`li[data-file="${fileName}"][data-stage="sending"]`).waitFor()
}

/** On "My records": wait until each of `names` shows as confirmed on chain. */
export async function recordsConfirmed(page, names) {
  await tab(page, 'My records')
  for (const name of names) await page.getByRole('row').filter({ hasText: name }).getByText(/^confirmed #\d+$/).waitFor({ timeout: CHAIN_TIMEOUT })
}

/** The patient's Requests tab, refreshed until the card of the request with `reason` is listed; the card. */
export async function requestCard(page, reason, { what = 'the access request', timeout } = {}) {
  await tab(page, 'Requests')
  const card = page.getByRole('article').filter({ hasText: reason })
  await untilRefreshed(what, page.getByRole('button', { name: 'Refresh' }), () => card.count(), timeout ? { timeout } : {})
  return card
}

/** On a request `card`, share the single record `record` for `days` day(s) and wait for the confirmation. */
export async function approveOne(page, card, { record, days }) {
  await card.getByRole('checkbox', { name: new RegExp(record) }).check()
  await card.getByLabel('For how many days').fill(String(days))
  await unlockIfAsked(card)
  await card.getByRole('button', { name: `Sign approval (1 record(s), ${days} day(s))` }).click()
  await page.getByRole('status').filter({ hasText: `Approved 1 record(s) for ${days} day(s).` }).first().waitFor({ timeout: CHAIN_TIMEOUT })
}

/** On the doctor's "Authorized records": the row of the shared record `name`, refreshed until it is listed. */
export async function sharedRecordRow(page, name, what = "the shared record in the doctor's list") {
  const row = page.getByRole('row').filter({ hasText: name })
  await untilRefreshed(what, region(page, 'Authorized records').getByRole('button', { name: 'Refresh' }), () => row.count(), { timeout: CHAIN_TIMEOUT })
  return row
}

/**
 * In the patient's "Write access" card (`write`), let the doctor found by `search` and picked by
 * `doctor` (their name) add records for `days` day(s); `shortAddress` is what the button and the
 * confirmation call them.
 */
export async function grantWriteAccess(write, { search, doctor, shortAddress, days }) {
  await write.getByText('Let a doctor add records').click()
  await write.getByLabel('Find a doctor (name or address)').fill(search)
  await write.getByRole('button', { name: 'Search doctors' }).click()
  await write.getByRole('radio', { name: new RegExp(doctor) }).check()
  await write.getByLabel('For how many days (write access)').fill(String(days))
  await write.getByRole('button', { name: `Sign write access for ${shortAddress} (${days} day(s))` }).click()
  await write.getByRole('status').filter({ hasText: new RegExp(`${shortAddress} may add records until `) }).waitFor({ timeout: CHAIN_TIMEOUT })
}

/**
 * Hold back `page`'s live updates (its GET /api/notifications poll answers 503), so what it shows
 * stays as it was, as after a lost connection; returns the function that lets them through again.
 */
export async function holdLiveUpdates(page) {
  const notifications = (url) => url.pathname === '/api/notifications'
  await page.route(notifications, (route) =>
    route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":{"code":"paused","message":"paused by the test"}}' }),
  )
  return () => page.unroute(notifications)
}

/** How many pixels of the drawn PDF page in `scope` (its `canvas.pdf-page`, once rendered) are not white. */
export async function inkOnCanvas(scope) {
  const canvas = scope.locator('canvas.pdf-page[data-rendered="true"]')
  await canvas.waitFor()
  return canvas.evaluate((element) => {
    const { data } = element.getContext('2d').getImageData(0, 0, element.width, element.height)
    let ink = 0
    for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0 && (data[i] < 200 || data[i + 1] < 200 || data[i + 2] < 200)) ink++
    return ink
  })
}

/**
 * Hold the first request of `page` to the API path `path` on its way to the server, to look at the
 * page meanwhile; later ones pass. Returns { release } (lets it go on) and { stop } (unroutes).
 */
export async function holdFirstRequest(page, path) {
  let release
  const gate = new Promise((resolve) => (release = resolve))
  let held = 0
  const pattern = `**${path}`
  await page.route(pattern, async (route) => {
    if (held++ === 0) await gate
    await route.continue()
  })
  return { release, stop: () => page.unroute(pattern) }
}
