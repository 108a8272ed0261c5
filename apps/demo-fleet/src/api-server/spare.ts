/**
 * A warm spare (started with AUTOHEAL_SPARE=1) answers HTTP but reports no health and sends no
 * synthetic traffic: it is nobody yet. The agent promotes it when it switches an instance's front
 * to it; the message is the agent's, in the contracts.
 */
export { promoteMessage, type PromoteMessage } from '@autoheal/contracts';
