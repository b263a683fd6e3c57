import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { startRouter } from './lib/router.svelte';
import { startSession } from './lib/session.svelte';

startRouter();
void startSession();

const target = document.getElementById('app');
if (!target) throw new Error('no #app element');
export default mount(App, { target });
