"""URL routes: the webcam page at ``/``, session tokens at ``/session-token``, recording
signing at ``/recordings/sign`` and a health check at ``/healthz``."""

from django.urls import path

from facedetect import recordings, views

urlpatterns = [
    path("", views.webcam_page, name="webcam-page"),
    path("healthz", views.health, name="health"),
    path("session-token", views.session_token, name="session-token"),
    path("recordings/sign", recordings.sign_recording, name="sign-recording"),
]
