"""URL routes: the webcam page at ``/``, session tokens at ``/session-token`` and a health check at ``/healthz``."""

from django.urls import path

from facedetect import views

urlpatterns = [
    path("", views.webcam_page, name="webcam-page"),
    path("healthz", views.health, name="health"),
    path("session-token", views.session_token, name="session-token"),
]
