"""REST API of the billing hub under /api/v1."""

from fastapi import APIRouter

router = APIRouter()
