// The webcam page: consent -> camera (640x480) -> JPEG frames to the relay over one WebSocket,
// at most one frame in flight -> merged JPEGs drawn on the "swapped" canvas.
// Standard browser APIs only (Chromium and Firefox), no build step.
//
// Readable state for people and tests: the HUD element's data-* attributes and text, the
// #status element (data-status), and window.faceswapClient.state.

import { decodeMessage, encodeMessage, ProtocolError } from './protocol.js';

const config = Object.assign({
  websocketUrl: 'ws://127.0.0.1:8001/stream',
  frameWidth: 640,
  frameHeight: 480,
  jpegQuality: 0.8,
  maxFps: 30,
  frameTimeoutMs: 3000,
  reconnectBaseMs: 500,
  reconnectMaxMs: 8000,
  recordFps: 25,
}, JSON.parse(document.getElementById('client-config').textContent));

const STATUS_TEXT = {
  idle: 'Press Start to turn on your camera.',
  camera: 'Turning on your camera…',
  connecting: 'Connecting to the face-swap relay…',
  waiting: 'Connected — waiting for the first swapped frame…',
  ok: 'Swapping live.',
  noFace: 'No face in the frame — showing it unchanged.',
  degraded: 'Prediction routine unreachable — showing your camera unchanged.',
  stopped: 'Stopped. The camera is off.',
};

const elements = {
  consent: document.getElementById('consent'),
  consentForm: document.getElementById('consent-form'),
  consentCheckbox: document.getElementById('consent-checkbox'),
  consentButton: document.getElementById('consent-button'),
  studio: document.getElementById('studio'),
  startButton: document.getElementById('start-button'),
  stopButton: document.getElementById('stop-button'),
  recordButton: document.getElementById('record-button'),
  recordStopButton: document.getElementById('record-stop-button'),
  downloadLink: document.getElementById('download-link'),
  status: document.getElementById('status'),
  statusText: document.getElementById('status-text'),
  statusDetail: document.getElementById('status-detail'),
  cameraError: document.getElementById('camera-error'),
  video: document.getElementById('camera'),
  originalView: document.getElementById('original-view'),
  swappedView: document.getElementById('swapped-view'),
  swappedFigure: document.getElementById('swapped-figure'),
  hud: document.getElementById('hud'),
  hudFps: document.getElementById('hud-fps'),
  hudLatency: document.getElementById('hud-latency'),
  hudSent: document.getElementById('hud-sent'),
  hudReceived: document.getElementById('hud-received'),
  hudDropped: document.getElementById('hud-dropped'),
  hudFaces: document.getElementById('hud-faces'),
  hudConnection: document.getElementById('hud-connection'),
};

const state = {
  consented: false,
  streaming: false,
  connection: 'idle',     // idle | connecting | open | reconnecting | closed
  status: 'idle',         // idle | camera | connecting | waiting | ok | degraded | error | stopped
  statusText: STATUS_TEXT.idle,
  framesSent: 0,
  framesReceived: 0,
  framesDropped: 0,       // relay-dropped (all connections) + local timeouts
  timeouts: 0,
  fps: 0,
  latencyMs: null,
  faces: 0,
  lastReason: null,
  direction: 'a2b',
  recording: false,
  recordingBytes: 0,
};

const originalContext = elements.originalView.getContext('2d');
const swappedContext = elements.swappedView.getContext('2d');
const captureCanvas = document.createElement('canvas');
captureCanvas.width = config.frameWidth;
captureCanvas.height = config.frameHeight;
const captureContext = captureCanvas.getContext('2d');

let cameraStream = null;
let socket = null;
let reconnectAttempts = 0;
let reconnectTimer = null;
let nextFrameTimer = null;
let previewHandle = null;
let nextSeq = 0;
let inFlight = null;              // {seq, sentAt, blob, timer}
let lastDrawnSeq = -1;
let lastSendTime = 0;
let droppedOnEarlierConnections = 0;
let droppedOnThisConnection = 0;
let receiveTimes = [];
let recorder = null;
let recordedChunks = [];
let downloadUrl = null;
// The last answered frame and the exact JPEG that was sent for it (for checks and debugging), and
// the last such pair whose answer is on the swapped view: decoding is asynchronous, so for a moment
// the newest answer is not drawn yet, and a check that compares the view with an answer reads drawnPair.
let lastPair = null;
let drawnPair = null;
// Round-trip times of the most recent answers, oldest first (for benchmarks; bounded).
const recentLatenciesMs = [];
const RECENT_LATENCIES_KEPT = 600;

// ---------------------------------------------------------------- HUD and status

function renderHud() {
  const hud = elements.hud.dataset;
  hud.connection = state.connection;
  hud.status = state.status;
  hud.framesSent = String(state.framesSent);
  hud.framesReceived = String(state.framesReceived);
  hud.framesDropped = String(state.framesDropped);
  hud.fps = state.fps.toFixed(2);
  hud.latencyMs = state.latencyMs === null ? '' : state.latencyMs.toFixed(1);
  hud.faces = String(state.faces);
  elements.hudFps.textContent = state.fps.toFixed(1);
  elements.hudLatency.textContent = state.latencyMs === null ? '– ms' : `${Math.round(state.latencyMs)} ms`;
  elements.hudSent.textContent = String(state.framesSent);
  elements.hudReceived.textContent = String(state.framesReceived);
  elements.hudDropped.textContent = String(state.framesDropped);
  elements.hudFaces.textContent = String(state.faces);
  elements.hudConnection.textContent = state.connection;
}

// One short sentence in #status; the technical reason (if any) in the smaller #status-detail.
function setStatus(status, text, detail) {
  state.status = status;
  state.statusText = text || STATUS_TEXT[status] || status;
  if (elements.statusText.textContent !== state.statusText) {
    elements.statusText.textContent = state.statusText;
  }
  const detailText = detail || '';
  if (elements.statusDetail.textContent !== detailText) {
    elements.statusDetail.textContent = detailText;
  }
  elements.statusDetail.hidden = !detailText;
  elements.status.dataset.status = status;
  renderHud();
}

function setConnection(connection) {
  state.connection = connection;
  renderHud();
}

function updateFps(now) {
  receiveTimes = receiveTimes.filter((time) => now - time <= 2000);
  if (receiveTimes.length >= 2) {
    const span = receiveTimes[receiveTimes.length - 1] - receiveTimes[0];
    // A stalled stream decays to 0 instead of freezing at its last rate.
    state.fps = span > 0 && now - receiveTimes[receiveTimes.length - 1] < 1500
      ? (receiveTimes.length - 1) * 1000 / span : 0;
  } else {
    state.fps = 0;
  }
}

function updateDropped() {
  state.framesDropped = droppedOnEarlierConnections + droppedOnThisConnection + state.timeouts;
}

setInterval(() => {
  updateFps(performance.now());
  renderHud();
}, 500);

// ---------------------------------------------------------------- consent

elements.consentCheckbox.addEventListener('change', () => {
  elements.consentButton.disabled = !elements.consentCheckbox.checked;
});

elements.consentForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!elements.consentCheckbox.checked) {
    return;
  }
  state.consented = true;
  elements.consent.hidden = true;
  elements.studio.hidden = false;
  elements.startButton.focus();
});

// ---------------------------------------------------------------- camera

function cameraErrorText(error) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return 'This browser gives no camera access here: open the page over HTTPS or on localhost.';
  }
  switch (error && error.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Camera access was refused: allow the camera for this site and press Start again.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No usable camera was found: connect a camera and press Start again.';
    case 'NotReadableError':
      return 'The camera is busy in another application: close it there and press Start again.';
    default:
      return `The camera could not be started (${error && error.message ? error.message : error}).`;
  }
}

async function startCamera() {
  if (!state.consented) {
    throw new Error('consent is required before the camera starts');
  }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error(cameraErrorText(null));
  }
  cameraStream = await navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { width: { ideal: config.frameWidth }, height: { ideal: config.frameHeight } },
  });
  elements.video.srcObject = cameraStream;
  await elements.video.play();
  drawPreview();
}

function stopCamera() {
  if (previewHandle !== null) {
    cancelAnimationFrame(previewHandle);
    previewHandle = null;
  }
  if (cameraStream) {
    cameraStream.getTracks().forEach((track) => track.stop());
    cameraStream = null;
  }
  elements.video.srcObject = null;
}

// Draws the camera into a 640x480 canvas, scaled to fill it and cropped to keep the aspect.
function drawCameraInto(context) {
  const video = elements.video;
  const sourceWidth = video.videoWidth;
  const sourceHeight = video.videoHeight;
  if (!sourceWidth || !sourceHeight) {
    return false;
  }
  const targetWidth = context.canvas.width;
  const targetHeight = context.canvas.height;
  const scale = Math.max(targetWidth / sourceWidth, targetHeight / sourceHeight);
  const cropWidth = targetWidth / scale;
  const cropHeight = targetHeight / scale;
  context.drawImage(video, (sourceWidth - cropWidth) / 2, (sourceHeight - cropHeight) / 2, cropWidth, cropHeight,
    0, 0, targetWidth, targetHeight);
  return true;
}

function drawPreview() {
  drawCameraInto(originalContext);
  previewHandle = requestAnimationFrame(drawPreview);
}

// ---------------------------------------------------------------- relay connection

// The relay admits a stream only with a fresh signed session token, which the page hands out
// after consent (POST /session-token; null when the operator runs without tokens locally).
// Every connection, reconnections included, asks for a new one: tokens live ~2 minutes.
async function fetchSessionToken() {
  const response = await fetch(config.sessionTokenUrl || '/session-token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ consent: state.consented }),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  if (!response.ok) {
    throw new Error(`the page refused a session token (HTTP ${response.status})`);
  }
  const body = await response.json();
  return body.token || null;
}

function streamUrl(token) {
  if (!token) {
    return config.websocketUrl;
  }
  const url = new URL(config.websocketUrl);
  url.searchParams.set('session', token);
  return url.toString();
}

let connectGeneration = 0;

async function connect() {
  clearTimeout(reconnectTimer);
  reconnectTimer = null;
  setConnection(reconnectAttempts === 0 ? 'connecting' : 'reconnecting');
  const generation = ++connectGeneration;
  let token;
  try {
    token = await fetchSessionToken();
  } catch (error) {
    if (generation === connectGeneration && state.streaming) {
      scheduleReconnect({ reason: `no session token: ${error.message}` });
    }
    return;
  }
  if (generation !== connectGeneration || !state.streaming) {
    return;  // stopped (or reconnected) while the token was on its way
  }
  let ws;
  try {
    ws = new WebSocket(streamUrl(token));
  } catch (error) {
    setStatus('error', `The relay address ${config.websocketUrl} is not a valid WebSocket URL.`);
    return;
  }
  ws.binaryType = 'arraybuffer';
  socket = ws;
  ws.addEventListener('open', () => {
    if (socket !== ws) {
      return;
    }
    reconnectAttempts = 0;
    droppedOnThisConnection = 0;
    setConnection('open');
    if (state.status !== 'ok' && state.status !== 'degraded') {
      setStatus('waiting');
    }
    sendNextFrame();
  });
  ws.addEventListener('message', (event) => {
    if (socket === ws) {
      handleMessage(event.data, ws);
    }
  });
  ws.addEventListener('close', (event) => {
    if (socket !== ws) {
      return;
    }
    socket = null;
    droppedOnEarlierConnections += droppedOnThisConnection;
    droppedOnThisConnection = 0;
    abandonInFlight(false);
    if (!state.streaming) {
      setConnection('closed');
      return;
    }
    scheduleReconnect(event);
  });
}

function scheduleReconnect(closeEvent) {
  const base = Math.min(config.reconnectMaxMs, config.reconnectBaseMs * 2 ** reconnectAttempts);
  const delay = Math.round(base * (0.8 + 0.4 * Math.random()));
  reconnectAttempts += 1;
  setConnection('reconnecting');
  const why = closeEvent && closeEvent.reason ? closeEvent.reason : '';
  setStatus('connecting',
    `Connection to the relay lost — reconnecting in ${(delay / 1000).toFixed(1)} s (attempt ${reconnectAttempts}).`, why);
  reconnectTimer = setTimeout(connect, delay);
}

function disconnect() {
  connectGeneration += 1;
  clearTimeout(reconnectTimer);
  reconnectTimer = null;
  reconnectAttempts = 0;
  const ws = socket;
  socket = null;
  if (ws) {
    droppedOnEarlierConnections += droppedOnThisConnection;
    droppedOnThisConnection = 0;
    ws.close(1000, 'stopped by the user');
  }
  setConnection('closed');
}

// ---------------------------------------------------------------- frames out

function selectedDirection() {
  const checked = document.querySelector('input[name="direction"]:checked');
  return checked ? checked.value : 'a2b';
}

function scheduleNextFrame() {
  clearTimeout(nextFrameTimer);
  const wait = Math.max(0, 1000 / config.maxFps - (performance.now() - lastSendTime));
  nextFrameTimer = setTimeout(sendNextFrame, wait);
}

function abandonInFlight(countAsTimeout) {
  if (!inFlight) {
    return;
  }
  clearTimeout(inFlight.timer);
  inFlight = null;
  if (countAsTimeout) {
    state.timeouts += 1;
    updateDropped();
  }
}

function jpegFromCanvas(canvas, quality) {
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('the frame could not be encoded as JPEG'))),
      'image/jpeg', quality);
  });
}

async function sendNextFrame() {
  if (!state.streaming || inFlight || !socket || socket.readyState !== WebSocket.OPEN) {
    return;
  }
  if (!drawCameraInto(captureContext)) {
    scheduleNextFrame();   // the camera has not delivered its first picture yet
    return;
  }
  // When the picture was taken (drawn): the routine times the stream's motion by it, not by the
  // send time, which comes after an encode of varying length.
  const capturedAt = performance.now();
  const seq = nextSeq++;
  // Reserve the slot before the asynchronous encode so no second frame can start meanwhile.
  inFlight = { seq, sentAt: performance.now(), blob: null, timer: null };
  const slot = inFlight;
  let blob;
  let jpegBytes;
  try {
    blob = await jpegFromCanvas(captureCanvas, config.jpegQuality);
    jpegBytes = await blob.arrayBuffer();
  } catch (error) {
    if (inFlight === slot) {
      inFlight = null;
    }
    setStatus('error', 'A camera frame could not be encoded as JPEG.', error.message);
    scheduleNextFrame();
    return;
  }
  if (inFlight !== slot || !socket || socket.readyState !== WebSocket.OPEN || !state.streaming) {
    if (inFlight === slot) {
      inFlight = null;
    }
    return;
  }
  state.direction = selectedDirection();
  const sentAt = performance.now();
  const header = {
    seq,
    direction: state.direction,
    options: { mark: true },
    sent_at: sentAt,
    captured_at: capturedAt,
  };
  slot.blob = blob;
  slot.sentAt = sentAt;
  slot.timer = setTimeout(() => {
    if (inFlight === slot) {
      abandonInFlight(true);
      setStatus('connecting', `No answer for frame ${seq} within ${config.frameTimeoutMs / 1000} s — sending a newer one.`);
      sendNextFrame();
    }
  }, config.frameTimeoutMs);
  socket.send(encodeMessage(header, jpegBytes));
  lastSendTime = sentAt;
  state.framesSent += 1;
  renderHud();
}

// ---------------------------------------------------------------- results in

// [status, sentence, detail] for a result header.
function describeResult(header) {
  if (header.status === 'ok') {
    if (header.faces > 0) {
      return ['ok', `Swapping live — ${header.faces} face${header.faces === 1 ? '' : 's'} (${directionLabel()}).`, ''];
    }
    return ['ok', header.reason ? `${capitalise(header.reason)} — showing it unchanged.` : STATUS_TEXT.noFace, ''];
  }
  if (header.status === 'degraded') {
    return ['degraded', STATUS_TEXT.degraded, header.reason || ''];
  }
  return ['error', 'The relay rejected a frame.', header.reason || 'no reason given'];
}

function directionLabel() {
  return state.direction === 'b2a' ? 'B → A' : 'A → B';
}

function capitalise(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

async function handleMessage(data, ws) {
  let message;
  try {
    message = decodeMessage(data);
  } catch (error) {
    const why = error instanceof ProtocolError ? error.message : String(error);
    console.warn('unreadable message from the relay:', why);
    setStatus('error', 'The relay sent an unreadable message.', why);
    return;
  }
  const { header, payload } = message;
  const now = performance.now();
  if (typeof header.dropped === 'number') {
    droppedOnThisConnection = header.dropped;
    updateDropped();
  }
  const answersInFlight = inFlight && header.seq === inFlight.seq;
  if (answersInFlight) {
    state.latencyMs = now - (typeof header.sent_at === 'number' ? header.sent_at : inFlight.sentAt);
    recentLatenciesMs.push(state.latencyMs);
    if (recentLatenciesMs.length > RECENT_LATENCIES_KEPT) {
      recentLatenciesMs.shift();
    }
    const sentBlob = inFlight.blob;
    clearTimeout(inFlight.timer);
    inFlight = null;
    if (header.status !== 'error') {
      lastPair = { seq: header.seq, status: header.status, sentBlob, receivedBlob: null };
    }
  }
  const [status, text, detail] = describeResult(header);
  if (header.status !== 'error' && payload.length > 0 && typeof header.seq === 'number' && header.seq > lastDrawnSeq) {
    lastDrawnSeq = header.seq;
    const receivedBlob = new Blob([payload], { type: 'image/jpeg' });
    if (lastPair && lastPair.seq === header.seq) {
      lastPair.receivedBlob = receivedBlob;
    }
    try {
      const bitmap = await createImageBitmap(receivedBlob);
      if (!state.streaming) {
        bitmap.close();
        return;   // stopped while this frame was decoding: the page already says so
      }
      swappedContext.drawImage(bitmap, 0, 0, elements.swappedView.width, elements.swappedView.height);
      bitmap.close();
      if (lastPair && lastPair.seq === header.seq) {
        drawnPair = lastPair;
      }
      state.framesReceived += 1;
      state.faces = header.faces || 0;
      receiveTimes.push(now);
      updateFps(now);
    } catch (error) {
      console.warn('a result frame could not be decoded:', error);
      setStatus('error', 'A result frame from the relay could not be decoded as an image.');
    }
  }
  if (socket !== ws) {
    return;   // the connection closed while this frame was decoding: its status is stale
  }
  elements.swappedFigure.dataset.result = status;
  state.lastReason = header.reason || null;
  setStatus(status, text, detail);
  if (answersInFlight && state.streaming) {
    scheduleNextFrame();
  }
}

// ---------------------------------------------------------------- start / stop

async function start() {
  if (state.streaming) {
    return;
  }
  elements.startButton.disabled = true;
  elements.cameraError.hidden = true;
  setStatus('camera');
  try {
    await startCamera();
  } catch (error) {
    console.warn('camera failed:', error);
    elements.cameraError.textContent = cameraErrorText(error);
    elements.cameraError.hidden = false;
    elements.startButton.disabled = false;
    setStatus('error', 'The camera did not start.');
    return;
  }
  state.streaming = true;
  elements.stopButton.disabled = false;
  elements.recordButton.disabled = false;
  setStatus('connecting');
  connect();
}

function stop() {
  state.streaming = false;
  clearTimeout(nextFrameTimer);
  abandonInFlight(false);
  stopRecording();
  disconnect();
  stopCamera();
  state.fps = 0;
  receiveTimes = [];
  elements.startButton.disabled = false;
  elements.stopButton.disabled = true;
  elements.recordButton.disabled = true;
  setStatus('stopped');
}

elements.startButton.addEventListener('click', start);
elements.stopButton.addEventListener('click', stop);
window.addEventListener('pagehide', () => {
  if (state.streaming) {
    stop();
  }
});

// ---------------------------------------------------------------- recording

// MP4 first: only MP4 can carry the signed Content Credentials the page server adds (WebM cannot).
function recorderMimeType() {
  const candidates = ['video/mp4;codecs=avc1.42E01E', 'video/mp4', 'video/webm;codecs=vp9', 'video/webm;codecs=vp8',
    'video/webm'];
  return candidates.find((type) => window.MediaRecorder && MediaRecorder.isTypeSupported(type)) || '';
}

function startRecording() {
  if (recorder || !state.streaming) {
    return;
  }
  if (!window.MediaRecorder || !elements.swappedView.captureStream) {
    setStatus(state.status, 'This browser cannot record a canvas (MediaRecorder is missing).');
    return;
  }
  const stream = elements.swappedView.captureStream(config.recordFps);
  const mimeType = recorderMimeType();
  recorder = mimeType ? new MediaRecorder(stream, { mimeType }) : new MediaRecorder(stream);
  recordedChunks = [];
  state.recordingBytes = 0;
  recorder.addEventListener('dataavailable', (event) => {
    if (event.data && event.data.size > 0) {
      recordedChunks.push(event.data);
      state.recordingBytes += event.data.size;
    }
  });
  const activeRecorder = recorder;
  recorder.addEventListener('stop', async () => {
    const type = (activeRecorder.mimeType || mimeType || 'video/webm').split(';')[0];
    const blob = new Blob(recordedChunks, { type });
    recordedChunks = [];
    stream.getTracks().forEach((track) => track.stop());
    offerRecording(await signRecording(blob));
  });
  recorder.start(500);
  state.recording = true;
  elements.recordButton.disabled = true;
  elements.recordStopButton.disabled = false;
  elements.swappedFigure.classList.add('recording');
}

// The page server embeds signed Content Credentials (C2PA: edited with a trained model, digital
// source type compositeWithTrainedAlgorithmicMedia) into an MP4 recording and sends it back without
// keeping it (POST /recordings/sign). Anything else is offered unsigned, saying why.
async function signRecording(blob) {
  if (blob.type !== 'video/mp4') {
    return { blob, signed: false, note: 'WebM cannot carry Content Credentials' };
  }
  try {
    const response = await fetch(config.recordingSignUrl || '/recordings/sign', {
      method: 'POST',
      headers: { 'Content-Type': 'video/mp4' },
      body: blob,
      credentials: 'same-origin',
      cache: 'no-store',
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      return { blob, signed: false, note: body.error || `the page server answered HTTP ${response.status}` };
    }
    return { blob: new Blob([await response.arrayBuffer()], { type: 'video/mp4' }), signed: true, note: '' };
  } catch (error) {
    return { blob, signed: false, note: `the page server could not be reached (${error.message})` };
  }
}

function offerRecording({ blob, signed, note }) {
  if (downloadUrl) {
    URL.revokeObjectURL(downloadUrl);
  }
  downloadUrl = URL.createObjectURL(blob);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const format = blob.type === 'video/mp4' ? 'MP4' : 'WebM';
  const size = `${(blob.size / 1024).toFixed(0)} KB`;
  elements.downloadLink.href = downloadUrl;
  elements.downloadLink.download = `faceswap-ai-generated-${stamp}.${format.toLowerCase()}`;
  elements.downloadLink.textContent = signed
    ? `Download recording (${format}, ${size}, with Content Credentials)`
    : `Download recording (${format}, ${size}, without Content Credentials: ${note})`;
  elements.downloadLink.setAttribute('aria-label', `Download the recording of the swapped view (${format})`);
  elements.downloadLink.dataset.bytes = String(blob.size);
  elements.downloadLink.dataset.signed = String(signed);
  elements.downloadLink.hidden = false;
}

function stopRecording() {
  if (!recorder) {
    return;
  }
  if (recorder.state !== 'inactive') {
    recorder.stop();
  }
  recorder = null;
  state.recording = false;
  elements.recordButton.disabled = !state.streaming;
  elements.recordStopButton.disabled = true;
  elements.swappedFigure.classList.remove('recording');
}

elements.recordButton.addEventListener('click', startRecording);
elements.recordStopButton.addEventListener('click', stopRecording);

// ---------------------------------------------------------------- readable state

window.faceswapClient = {
  config,
  state,
  // The last answered frame on the swapped view: {seq, status, sentBlob (the JPEG sent),
  // receivedBlob (the JPEG drawn)}; null until one is drawn.
  lastPair: () => drawnPair,
  recentLatenciesMs: () => recentLatenciesMs.slice(),
};

renderHud();
